"""The decoder's map: what the shipped classifier reads in the decoding of each cell of a lattice over
the plane, checked cell by cell against decoding and classifying each point on its own."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

import vae
from vae import inference
from vae.classifier import classifier_path, load_classifier

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist-2d.pt"     # wherever pytest starts


@pytest.fixture(scope="module")
def model():
    return vae.load_checkpoint(SHIPPED)[0]


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(classifier_path("mnist"))[0]


def one_by_one(model, classifier, z) -> tuple[np.ndarray, np.ndarray]:
    """Decode and classify each latent point alone, in float32: (class (N,), confidence (N,))."""
    out = []
    with torch.no_grad():
        for point in torch.as_tensor(np.asarray(z, dtype=np.float32)):
            p = classifier(model.decode(point[None]))[0].softmax(dim=0)
            out.append((int(p.argmax()), float(p.max())))
    classes, confidence = zip(*out)
    return np.array(classes), np.array(confidence)


def centres(extent, n) -> np.ndarray:
    """Cell centres written out: row i from the top (y1), column j from the left (x0)."""
    x0, x1, y0, y1 = extent
    w, h = (x1 - x0) / n, (y1 - y0) / n
    return np.array([[x0 + (j + 0.5) * w, y1 - (i + 0.5) * h] for i in range(n) for j in range(n)])


def test_each_cell_is_what_the_classifier_reads_in_its_centres_decoding(model, classifier):
    extent, n = (-2.5, 1.5, -1.0, 3.0), 7          # off-centre, so a flipped or transposed map differs
    classes, confidence = inference.decoder_map(model, classifier, inference.dims_basis(2, (0, 1)), extent, n,
                                                precision=None)
    assert classes.shape == confidence.shape == (n, n)
    expected_classes, expected_confidence = one_by_one(model, classifier, centres(extent, n))
    assert len(set(expected_classes)) >= 3                                 # the region holds several classes
    np.testing.assert_array_equal(classes.ravel(), expected_classes)
    np.testing.assert_allclose(confidence.ravel(), expected_confidence, atol=1e-5)


def test_bfloat16_reads_the_same_map_within_a_small_error(model, classifier):
    """The fast path (bfloat16 autocast, the default) against float32: a few cells on class boundaries
    may flip, nowhere else, and confidences stay close."""
    basis, extent = inference.dims_basis(2, (0, 1)), (-3.0, 3.0, -3.0, 3.0)
    fast_classes, fast_confidence = inference.decoder_map(model, classifier, basis, extent, 30)
    classes, confidence = inference.decoder_map(model, classifier, basis, extent, 30, precision=None)
    assert np.mean(fast_classes == classes) >= 0.97
    error = np.abs(fast_confidence - confidence)
    assert np.percentile(error, 95) < 0.02 and error.max() < 0.2
    sure = confidence > 0.9
    assert (fast_classes[sure] == classes[sure]).mean() >= 0.99


@pytest.mark.parametrize("plane", ["dims-held", "pca"])
def test_a_map_of_a_four_dimensional_model_goes_through_the_plane(model, classifier, plane):
    # The shipped decoder given two more latent inputs (z2, z3) with random weights: its decodings are
    # digits that every one of the four coordinates changes.
    four = vae.VAE(dataclasses.replace(model.config, latent_dim=4)).eval()
    state = model.decoder.state_dict()
    first = state["0.weight"]                                                        # (768, 2)
    extra = first.std() * torch.randn(first.shape[0], 2, generator=torch.Generator().manual_seed(0))
    four.decoder.load_state_dict({**state, "0.weight": torch.cat([first, extra], dim=1)})
    model = four
    rng = np.random.default_rng(0)
    if plane == "pca":
        encodings = rng.normal(size=(500, 4)) * [3.0, 0.5, 2.0, 1.0] + [1.0, -1.0, 0.5, 2.0]
        basis, _ = inference.pca_basis(encodings)
    else:
        basis = inference.dims_basis(4, (2, 0), held=[0.7, -1.2, 0.3, 1.5])
    extent, n = (-1.0, 2.0, -2.0, 1.0), 5
    classes, confidence = inference.decoder_map(model, classifier, basis, extent, n, precision=None)
    xy = centres(extent, n)
    if plane == "pca":
        z = basis.origin + xy[:, :1] * basis.u + xy[:, 1:] * basis.v
    else:                                        # written out: z2 is x, z0 is y, the others held
        z = np.tile([0.0, -1.2, 0.0, 1.5], (len(xy), 1))
        z[:, 2], z[:, 0] = xy[:, 0], xy[:, 1]
    expected_classes, expected_confidence = one_by_one(model, classifier, z)
    assert np.ptp(expected_confidence) > 1e-2                             # the test can see a wrong z
    np.testing.assert_array_equal(classes.ravel(), expected_classes)
    np.testing.assert_allclose(confidence.ravel(), expected_confidence, atol=1e-5)


def test_the_lattice_tiles_the_extent_with_equal_cells_from_the_top_left():
    np.testing.assert_allclose(inference.lattice((0.0, 4.0, 0.0, 2.0), 2), [[1, 1.5], [3, 1.5], [1, 0.5], [3, 0.5]])


def test_the_confident_share_counts_cells_at_or_above_the_threshold():
    confidence = np.array([[0.95, 0.9], [0.8999, 0.1]], dtype=np.float32)
    assert inference.confident_share(confidence) == 0.5                   # 0.9 itself counts
    assert inference.confident_share(confidence, 0.5) == 0.75
    assert inference.confident_share(np.full((100, 100), 0.2)) == 0.0

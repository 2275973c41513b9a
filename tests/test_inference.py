from pathlib import Path

import numpy as np
import pytest
import torch

import vae
from vae import inference, load_checkpoint
from vae.inference import decode_points, encode_dataset, reconstruct

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist-2d.pt"     # wherever pytest starts


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(SHIPPED)[0]


def test_encode_dataset_matches_the_encoder(model, mnist_test):
    images = mnist_test[0][:300]
    means = encode_dataset(model, images, batch_size=64)
    assert means.shape == (300, 2) and means.dtype == np.float32
    with torch.no_grad():
        direct = model.encode(images.float().div(255).unsqueeze(1))[0].numpy()
    np.testing.assert_allclose(means, direct, rtol=1e-5, atol=1e-5)


def test_reconstructions_resemble_their_inputs(model, mnist_test):
    images = mnist_test[0][:200]
    recons, means = reconstruct(model, images)
    x = images.float().numpy() / 255
    own = np.abs(recons - x).mean()
    shuffled = np.abs(recons - np.roll(x, 1, axis=0)).mean()
    assert recons.shape == (200, 28, 28) and means.shape == (200, 2)
    assert own < 0.7 * shuffled


def test_prior_samples_are_seeded_and_scaled_by_the_temperature():
    model = vae.VAE(vae.ModelConfig(latent_dim=3))
    a = inference.sample_prior(model, 4000, seed=5)
    assert (a == inference.sample_prior(model, 4000, seed=5)).all()
    assert not (a == inference.sample_prior(model, 4000, seed=6)).all()
    hot = inference.sample_prior(model, 4000, seed=5, temperature=2.0)
    np.testing.assert_allclose(hot, 2 * a, rtol=1e-6)
    assert a.shape == (4000, 3) and abs(a.std() - 1) < 0.05 and abs(a.mean()) < 0.05


def test_linear_interpolation_walks_the_segment_evenly():
    path = inference.interpolate([0.0, 2.0], [4.0, -2.0], 5)
    np.testing.assert_allclose(path, [[0, 2], [1, 1], [2, 0], [3, -1], [4, -2]], atol=1e-6)


def test_slerp_turns_at_a_constant_rate_with_the_norm_going_linearly():
    a, b = np.array([3.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.5])           # 90 degrees apart
    path = inference.interpolate(a, b, 7, mode="slerp").astype(np.float64)
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    angles = np.degrees(np.arctan2(path[:, 2], path[:, 0]))
    np.testing.assert_allclose(np.diff(angles), 15.0, atol=1e-4)             # 90° in six equal turns
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linspace(3.0, 1.5, 7), atol=1e-5)
    assert abs(path[:, 1]).max() < 1e-6                                      # stays in the plane of a and b
    with pytest.raises(ValueError, match="slerp"):
        inference.interpolate(a, b, 3, mode="cubic")


def test_posterior_and_nearest_neighbours():
    torch.manual_seed(0)
    model = vae.VAE(vae.ModelConfig(latent_dim=2, hidden=16)).eval()
    image = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    mean, std = inference.posterior(model, image)
    with torch.no_grad():
        m, logvar = model.encode(torch.from_numpy(image).float().div(255).reshape(1, 1, 28, 28))
    np.testing.assert_allclose(mean, m[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(np.exp(logvar[0].numpy())), rtol=1e-5)
    points = np.array([[0, 0], [1, 0], [0, 2], [5, 5], [0.5, 0]], dtype=np.float32)
    assert list(inference.nearest(points, [0.1, 0.0], 3)) == [0, 4, 1]
    assert list(inference.nearest(points, [0.1, 0.0], 2, exclude=0)) == [4, 1]


def test_a_dims_plane_reads_and_writes_the_two_dimensions_and_holds_the_rest():
    basis = inference.dims_basis(4, (3, 1), held=[0.5, 9.0, -1.0, 9.0])
    z = basis.to_latent([[2.0, -3.0]])
    np.testing.assert_allclose(z, [[0.5, -3.0, -1.0, 2.0]])
    np.testing.assert_allclose(basis.to_plane(np.array([[7.0, 8.0, 9.0, 10.0]])), [[10.0, 8.0]])
    assert basis.spread([1.0, 2.0, 3.0, 4.0]) == (4.0, 2.0)


def test_pca_plane_holds_the_largest_variance_and_round_trips():
    rng = np.random.default_rng(0)
    direction = np.array([1.0, 2.0, 2.0]) / 3                          # the long axis, by construction
    z = 5 + rng.normal(0, 3, (5000, 1)) * direction + rng.normal(0, 0.3, (5000, 3))
    basis, explained = inference.pca_basis(z)
    assert abs(abs(basis.u @ direction) - 1) < 1e-3 and abs(basis.u @ basis.v) < 1e-9
    np.testing.assert_allclose(basis.origin, z.mean(axis=0))
    assert explained[0] > 0.95 and abs(explained.sum() - 1) < 1e-9
    on_plane = basis.to_latent(basis.to_plane(z[:10]))                    # the projection is idempotent
    np.testing.assert_allclose(basis.to_plane(on_plane), basis.to_plane(z[:10]), atol=1e-4)
    cov = np.cov((z - z.mean(0)).T)
    assert basis.u @ cov @ basis.u > basis.v @ cov @ basis.v > 0


def test_latent_grid_tiles_the_plane_with_y_up(model):
    basis = inference.dims_basis(model.latent_dim, (0, 1))
    grid = inference.latent_grid(model, basis, 3, (-2.0, 2.0, -1.0, 3.0))
    assert grid.shape == (84, 84)
    top_left = decode_points(model, [[-2.0, 3.0]])[0]                  # x0, y1: row 0 is the top
    bottom_right = decode_points(model, [[2.0, -1.0]])[0]
    np.testing.assert_allclose(grid[:28, :28], top_left, atol=1e-6)
    np.testing.assert_allclose(grid[56:, 56:], bottom_right, atol=1e-6)


def test_plane_extent_is_square_rounded_and_covers_the_bulk():
    points = np.random.default_rng(0).normal([1.0, -2.0], [1.0, 3.0], size=(10_000, 2))
    x0, x1, y0, y1 = inference.plane_extent(points)
    assert x1 - x0 == y1 - y0
    assert all(v * 2 == round(v * 2) for v in (x0, x1, y0, y1))
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    assert inside.mean() > 0.99


def test_dimension_kl_is_each_dimensions_kl_from_torch_distributions(mnist_test):
    """Per dimension, the mean over the images of KL(N(μ_i, σ_i²) ‖ N(0, 1)) as torch.distributions computes
    it; the sum is the ELBO's KL term (vae.evaluate), and an unused dimension reads 0."""
    from torch.distributions import Normal, kl_divergence

    from vae.evaluate import evaluate_elbo

    torch.manual_seed(3)
    model = vae.VAE(vae.ModelConfig(latent_dim=5, hidden=64)).eval()
    with torch.no_grad():                                  # dimension 4: the encoder gives exactly the prior
        for row in (4, 9):                                 # the mean's and the log-variance's rows
            model.encoder[-1].weight[row].zero_()
            model.encoder[-1].bias[row] = 0.0
    images = mnist_test[0][:500]
    kl = inference.dimension_kl(model, images, batch_size=128)
    with torch.no_grad():
        mean, logvar = model.encode(images.float().div(255))
    expected = kl_divergence(Normal(mean.double(), (0.5 * logvar.double()).exp()), Normal(0.0, 1.0)).mean(0).numpy()
    assert kl.shape == (5,)
    np.testing.assert_allclose(kl, expected, rtol=1e-6, atol=1e-9)
    assert kl[4] == pytest.approx(0, abs=1e-12) and (kl[:4] > 1e-3).all()
    assert kl.sum() == pytest.approx(evaluate_elbo(model, images)["kl"], rel=1e-5)

import numpy as np
import pytest
import torch

from vae import VAE, ModelConfig, load_checkpoint
from vae.inference import decode_points, embed_2d, encode_dataset, latent_grid, reconstruct


@pytest.fixture(scope="module")
def model():
    return load_checkpoint("checkpoints/mnist-2d.pt")[0]


def test_encode_dataset_matches_the_encoder(model, mnist_test):
    images = mnist_test[0][:300]
    means = encode_dataset(model, images, batch_size=64)
    assert means.shape == (300, 2) and means.dtype == np.float32
    with torch.no_grad():
        direct = model.encode(images.float().div(255).unsqueeze(1))[0].numpy()
    np.testing.assert_allclose(means, direct, rtol=1e-5, atol=1e-5)


def test_grid_tiles_are_the_decoded_corners(model):
    extent = (-2.0, 3.0, -1.0, 4.0)
    grid = latent_grid(model, 4, extent)
    assert grid.shape == (112, 112)
    top_left, bottom_right = decode_points(model, [[-2.0, 4.0], [3.0, -1.0]])
    np.testing.assert_allclose(grid[:28, :28], top_left, atol=1e-6)
    np.testing.assert_allclose(grid[-28:, -28:], bottom_right, atol=1e-6)


def test_reconstructions_resemble_their_inputs(model, mnist_test):
    images = mnist_test[0][:200]
    recons, means = reconstruct(model, images)
    x = images.float().numpy() / 255
    own = np.abs(recons - x).mean()
    shuffled = np.abs(recons - np.roll(x, 1, axis=0)).mean()
    assert recons.shape == (200, 28, 28) and means.shape == (200, 2)
    assert own < 0.7 * shuffled


def test_other_dims_held_at_zero():
    model = VAE(ModelConfig(latent_dim=4)).eval()
    z = embed_2d(model, [[1.5, -2.0]], dims=(1, 3))
    assert z.tolist() == [[0.0, 1.5, 0.0, -2.0]]

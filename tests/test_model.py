import math

import pytest
import torch

from vae.model import VAE, ModelConfig, kl_divergence, log_normal, negative_elbo, reconstruction_nll


@pytest.mark.parametrize("cfg", [ModelConfig(), ModelConfig(latent_dim=5), ModelConfig(arch="conv", hidden=64,
                                 channels=8)], ids=["mlp-2d", "mlp-5d", "conv-2d"])
def test_shapes_and_ranges(cfg, generator):
    model = VAE(cfg)
    x = torch.rand(7, 1, 28, 28, generator=generator)
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (7, cfg.latent_dim)
    assert torch.equal(model.encode(x.reshape(7, 784))[0], mean)        # (B, 784) input is the same image
    images = model.decode(torch.randn(7, cfg.latent_dim, generator=generator))
    assert images.shape == (7, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    logits, m2, _ = model(x)
    assert logits.shape == (7, 1, 28, 28) and torch.equal(m2, mean)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="arch"):
        ModelConfig(arch="transformer")
    with pytest.raises(ValueError, match="latent_dim"):
        ModelConfig(latent_dim=0)


def test_elbo_terms_match_a_direct_computation(generator):
    logits = torch.randn(5, 1, 28, 28, generator=generator) * 3
    x = torch.rand(5, 1, 28, 28, generator=generator)
    mean, logvar = torch.randn(5, 2, generator=generator), torch.randn(5, 2, generator=generator)
    loss, recon, kl = negative_elbo(logits, x, mean, logvar)

    p = torch.sigmoid(logits.double())
    direct_recon = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=(1, 2, 3)).mean()
    var = logvar.double().exp()
    direct_kl = sum(0.5 * (mean[:, j] ** 2 + var[:, j] - 1 - logvar[:, j]) for j in range(2)).mean()
    assert recon.item() == pytest.approx(direct_recon.item(), rel=1e-5)
    assert kl.item() == pytest.approx(direct_kl.item(), rel=1e-5)
    assert loss.item() == pytest.approx(recon.item() + kl.item(), rel=1e-6)
    # Summed over pixels, not averaged: a pixel-mean BCE would be 784 times smaller.
    assert recon.item() > 100 * kl.item() / 784


def test_beta_weighs_only_the_kl(generator):
    logits, x = torch.randn(3, 784, generator=generator), torch.rand(3, 784, generator=generator)
    mean, logvar = torch.randn(3, 2, generator=generator), torch.zeros(3, 2)
    full, recon, kl = negative_elbo(logits, x, mean, logvar)
    half, _, _ = negative_elbo(logits, x, mean, logvar, beta=0.5)
    assert half.item() == pytest.approx(recon.item() + 0.5 * kl.item(), rel=1e-6)
    assert full.item() > half.item()


def test_analytic_kl_matches_monte_carlo(generator):
    mean = torch.tensor([[0.7, -1.2, 0.1]], dtype=torch.float64)
    logvar = torch.tensor([[-0.5, 0.8, -2.0]], dtype=torch.float64)
    z = mean + torch.exp(0.5 * logvar) * torch.randn(200_000, 3, generator=generator, dtype=torch.float64)
    samples = log_normal(z, mean, logvar) - log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    stderr = samples.std().item() / math.sqrt(len(samples))
    assert abs(samples.mean().item() - kl_divergence(mean, logvar).item()) < 4 * stderr


def test_reconstruction_is_stable_for_confident_logits():
    logits = torch.full((1, 784), 80.0)
    assert torch.isfinite(reconstruction_nll(logits, torch.zeros(1, 784))).all()
    assert reconstruction_nll(logits, torch.ones(1, 784)).item() == pytest.approx(0.0, abs=1e-6)


def test_reparameterize_is_differentiable_and_seeded():
    mean = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    z1 = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(3))
    z2 = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(3))
    assert torch.equal(z1, z2)
    z1.sum().backward()
    assert mean.grad is not None and torch.all(mean.grad == 1)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_output_bias_starts_at_the_mean_image(arch, generator):
    model = VAE(ModelConfig(arch=arch, hidden=32, channels=4))
    mean_image = torch.rand(28, 28, generator=generator) * 0.8 + 0.1
    model.init_output_bias(mean_image)
    last = model.decoder[-2] if arch == "mlp" else model.decoder[-1]
    torch.nn.init.zeros_(last.weight)                   # decoding then shows the bias alone
    decoded = model.decode(torch.randn(3, 2, generator=generator))[:, 0]
    expected = mean_image if arch == "mlp" else mean_image.mean().expand(28, 28)
    torch.testing.assert_close(decoded, expected.expand(3, 28, 28), atol=1e-5, rtol=1e-4)

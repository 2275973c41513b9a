import math

import pytest
import torch
from torch.distributions import Normal
from torch.nn import functional as F

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
    with pytest.raises(ValueError, match=r"\(--latent-dim\) must be between 2 and 64, got 1: .*plane"):
        ModelConfig(latent_dim=1)                                     # the dashboard draws a plane
    with pytest.raises(ValueError, match="--activation.* one of relu.*got 'swish'"):
        ModelConfig(activation="swish")
    for name in ("hidden", "depth", "channels"):
        with pytest.raises(ValueError, match=rf"\(--{name}\) must be between 1 and \d+, got 0$"):
            ModelConfig(**{name: 0})
    ModelConfig(latent_dim=2, hidden=1, depth=1, channels=1)          # the smallest of each is allowed


def explicit_forward(model, x):
    """The encoder and decoder written out with torch.nn.functional and the model's own weights:
    (mean, logvar) of x and the logits of decoding the mean. ReLU after every layer but the last;
    the log-variance bounded to [-30, 20]."""
    p = dict(model.named_parameters())
    if model.config.arch == "mlp":
        h = x.reshape(len(x), 784)
        n = model.config.depth
        for i in range(n + 1):
            h = F.linear(h, p[f"encoder.{1 + 2 * i}.weight"], p[f"encoder.{1 + 2 * i}.bias"])
            h = F.relu(h) if i < n else h
        mean, logvar = h[:, :model.latent_dim], h[:, model.latent_dim:].clamp(-30.0, 20.0)
        h = mean
        for i in range(n + 1):
            h = F.linear(h, p[f"decoder.{2 * i}.weight"], p[f"decoder.{2 * i}.bias"])
            h = F.relu(h) if i < n else h
        return mean, logvar, h.reshape(-1, 1, 28, 28)
    c = model.config.channels
    h = F.relu(F.conv2d(x, p["encoder.0.weight"], p["encoder.0.bias"], stride=2, padding=1))
    h = F.relu(F.conv2d(h, p["encoder.2.weight"], p["encoder.2.bias"], stride=2, padding=1))
    h = F.relu(F.linear(h.flatten(1), p["encoder.5.weight"], p["encoder.5.bias"]))
    h = F.linear(h, p["encoder.7.weight"], p["encoder.7.bias"])
    mean, logvar = h[:, :model.latent_dim], h[:, model.latent_dim:].clamp(-30.0, 20.0)
    h = F.relu(F.linear(mean, p["decoder.0.weight"], p["decoder.0.bias"]))
    h = F.relu(F.linear(h, p["decoder.2.weight"], p["decoder.2.bias"])).reshape(-1, 2 * c, 7, 7)
    h = F.relu(F.conv_transpose2d(h, p["decoder.5.weight"], p["decoder.5.bias"], stride=2, padding=1))
    return mean, logvar, F.conv_transpose2d(h, p["decoder.7.weight"], p["decoder.7.bias"], stride=2, padding=1)


@pytest.mark.parametrize("cfg", [ModelConfig(hidden=24), ModelConfig(latent_dim=3, hidden=16, depth=3),
                                 ModelConfig(arch="conv", hidden=24, channels=4)], ids=["mlp", "mlp-depth3", "conv"])
def test_layers_compute_what_the_architecture_says(cfg, generator):
    torch.manual_seed(0)
    model = VAE(cfg).double()
    for param in model.parameters():          # large enough weights that a missing ReLU shows
        torch.nn.init.normal_(param, std=0.5, generator=generator)
    x = torch.rand(3, 1, 28, 28, generator=generator, dtype=torch.float64)
    mean, logvar, logits = explicit_forward(model, x)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(x), (mean, logvar))
        torch.testing.assert_close(model.decode_logits(mean), logits)


def test_elbo_terms_match_a_direct_float64_computation(generator):
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


def test_reconstruction_is_summed_over_pixels_not_averaged(generator):
    """The tutorial's bug: a per-pixel mean BCE is 784 times too small, and the KL then swamps it."""
    logits = torch.randn(4, 784, generator=generator) * 2
    x = torch.rand(4, 784, generator=generator)
    per_pixel_mean = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="mean")
    _, recon, _ = negative_elbo(logits, x, torch.zeros(4, 2), torch.zeros(4, 2))
    assert recon.item() == pytest.approx(784 * per_pixel_mean.item(), rel=1e-5)
    per_image = reconstruction_nll(logits, x)
    assert per_image.shape == (4,)
    torch.testing.assert_close(per_image.double(), F.binary_cross_entropy_with_logits(
        logits.double(), x.double(), reduction="none").sum(dim=1), rtol=1e-5, atol=0)


def test_kl_sums_over_the_last_dimension_only():
    mean, logvar = torch.ones(4, 5, 3), torch.zeros(4, 5, 3)
    torch.testing.assert_close(kl_divergence(mean, logvar), torch.full((4, 5), 1.5))


def test_kl_is_summed_over_latent_dimensions_and_averaged_over_the_batch():
    mean = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0), 0.0], [0.0, 0.0, 0.0]])
    # KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - log s^2) / 2, per dimension, by hand:
    first = 0.5 * 1 + 0.5 * (4 - 1 - math.log(4)) + 0.5 * 4
    torch.testing.assert_close(kl_divergence(mean, logvar), torch.tensor([first, 0.0]))
    _, _, kl = negative_elbo(torch.zeros(2, 784), torch.zeros(2, 784), mean, logvar)
    assert kl.item() == pytest.approx(first / 2, rel=1e-6)


def test_beta_weighs_only_the_kl(generator):
    logits, x = torch.randn(3, 784, generator=generator), torch.rand(3, 784, generator=generator)
    mean, logvar = torch.randn(3, 2, generator=generator), torch.zeros(3, 2)
    full, recon, kl = negative_elbo(logits, x, mean, logvar)
    half, _, _ = negative_elbo(logits, x, mean, logvar, beta=0.5)
    assert half.item() == pytest.approx(recon.item() + 0.5 * kl.item(), rel=1e-6)
    assert full.item() > half.item()


def test_analytic_kl_matches_monte_carlo(generator):
    """The closed-form KL against a Monte-Carlo estimate whose densities come from torch.distributions."""
    mean = torch.tensor([[0.7, -1.2, 0.1]], dtype=torch.float64)
    logvar = torch.tensor([[-0.5, 0.8, -2.0]], dtype=torch.float64)
    q = Normal(mean, torch.exp(0.5 * logvar))
    prior = Normal(torch.zeros_like(mean), torch.ones_like(mean))
    z = mean + q.scale * torch.randn(200_000, 3, generator=generator, dtype=torch.float64)
    samples = (q.log_prob(z) - prior.log_prob(z)).sum(dim=-1)
    stderr = samples.std().item() / math.sqrt(len(samples))
    assert abs(samples.mean().item() - kl_divergence(mean, logvar).item()) < 4 * stderr
    torch.testing.assert_close(kl_divergence(mean, logvar), torch.distributions.kl_divergence(q, prior).sum(-1))


def test_log_normal_matches_torch_distributions(generator):
    # (k, B, L) as the IWAE bound uses it: the sum runs over the last dimension only
    z, mean, logvar = (torch.randn(4, 6, 3, generator=generator, dtype=torch.float64) for _ in range(3))
    expected = Normal(mean, torch.exp(0.5 * logvar)).log_prob(z).sum(dim=-1)
    torch.testing.assert_close(log_normal(z, mean, logvar), expected)


def test_reconstruction_is_stable_for_confident_logits():
    logits = torch.full((1, 784), 80.0)
    assert torch.isfinite(reconstruction_nll(logits, torch.zeros(1, 784))).all()
    assert reconstruction_nll(logits, torch.ones(1, 784)).item() == pytest.approx(0.0, abs=1e-6)


def test_forward_draws_its_noise_from_the_given_generator(generator):
    model = VAE(ModelConfig(hidden=16))
    x = torch.rand(4, 784, generator=generator)
    first, again, other = (model(x, torch.Generator().manual_seed(s))[0] for s in (3, 3, 4))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_reparameterize_draws_noise_in_the_dtype_of_the_mean():
    mean, logvar = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)
    z = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(5))
    assert z.dtype == torch.float64
    assert torch.equal(z, torch.randn(3, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64))


def test_reparameterize_is_differentiable_and_seeded():
    mean = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.full((4, 2), 1.5, requires_grad=True)
    z1 = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(3))
    z2 = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(3))
    assert torch.equal(z1, z2)
    z1.sum().backward()
    assert mean.grad is not None and torch.all(mean.grad == 1)
    # dz/dlogvar = eps * exp(logvar / 2) / 2 = z / 2 where mean is 0
    torch.testing.assert_close(logvar.grad, z1.detach() / 2)


@pytest.mark.parametrize("use_generator", [True, False], ids=["generator", "global-rng"])
def test_reparameterized_noise_has_the_posterior_standard_deviation(use_generator):
    """At logvar = log 4 the standard deviation is 2 and the variance 4: a sampler that scales the
    noise by the variance (or by logvar itself) is off by a factor of two. At logvar = 0 all agree."""
    n = 100_000
    mean = torch.tensor([1.0, -3.0]).expand(n, 2)
    logvar = torch.tensor([math.log(4.0), math.log(0.25)]).expand(n, 2)
    torch.manual_seed(11)
    z = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(11) if use_generator else None)
    z = z.double()
    # the sample mean's standard error is std / sqrt(n) < 0.01; the sample std's about std / sqrt(2n)
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -3.0], dtype=torch.float64), atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([2.0, 0.5], dtype=torch.float64), atol=0, rtol=0.02)
    # and exactly: z = mean + std * eps for the generator's own standard normal draws
    eps = torch.randn(n, 2, generator=torch.Generator().manual_seed(11)) if use_generator else None
    if eps is not None:
        torch.testing.assert_close(z, (mean + torch.tensor([2.0, 0.5]) * eps).double())


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


def test_a_wild_encoder_output_keeps_the_loss_finite():
    """An encoder that outputs log-variances of ±1e4 (one bad step can): without the bound exp() gives
    inf or 0 and the KL is inf or NaN; with it every term stays finite."""
    from vae.model import LOGVAR_MAX, LOGVAR_MIN, kl_divergence

    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=2, hidden=8))
    with torch.no_grad():
        last = model.encoder[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, 0.0, 1e4, -1e4]))        # logvar: +1e4, -1e4
    x = torch.rand(3, 1, 28, 28)
    mean, logvar = model.encode(x)
    assert logvar[:, 0].eq(LOGVAR_MAX).all() and logvar[:, 1].eq(LOGVAR_MIN).all()
    logits, mean, logvar = model(x, torch.Generator().manual_seed(0))
    assert torch.isfinite(kl_divergence(mean, logvar)).all() and torch.isfinite(logits).all()

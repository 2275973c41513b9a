"""The variational autoencoder: Gaussian encoder q(z|x), Bernoulli decoder p(x|z), and the ELBO.

Modules here are pure: no I/O, no seeding, no `.to(device)`. The device comes
from the input tensor and noise from `torch.randn_like` or an explicit generator.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .options import check

IMAGE_PIXELS = 28 * 28
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0      # exp(±) stays finite and nonzero in float32, with room to spare
# The layer of each activation that vae.options.ACTIVATIONS names (tests/test_model.py builds a model of each).
ACTIVATION_LAYERS = {"relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


@dataclass(frozen=True)
class ModelConfig:
    latent_dim: int = 2         # size of z; 2 makes the latent plane drawable as it is
    arch: str = "mlp"           # "mlp": 784-h-h-2·latent (the tutorial's shape); "conv": strided convolutions
    hidden: int = 400           # width of the MLP's hidden layers / of the conv net's dense layer
    depth: int = 2              # mlp only: hidden layers in the encoder and in the decoder
    activation: str = "relu"    # one of vae.options.ACTIVATIONS; the tutorial's sigmoids train far slower
    channels: int = 32          # conv only: channels of the first conv layer (doubled in the second)

    def __post_init__(self):
        check(self)                 # the bounds and their messages: vae.options, shared with the CLI and the form

    def to_dict(self) -> dict:
        return asdict(self)


def _mlp(sizes: list[int], act) -> list[nn.Module]:
    """Linear layers between consecutive sizes, with `act` after every one but the last."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([act()] if i < len(sizes) - 2 else [])
    return layers


def _mlp_encoder(cfg: ModelConfig) -> nn.Module:
    sizes = [IMAGE_PIXELS] + [cfg.hidden] * cfg.depth + [2 * cfg.latent_dim]    # -> mean and log-variance
    return nn.Sequential(nn.Flatten(), *_mlp(sizes, ACTIVATION_LAYERS[cfg.activation]))


def _mlp_decoder(cfg: ModelConfig) -> nn.Module:
    sizes = [cfg.latent_dim] + [cfg.hidden] * cfg.depth + [IMAGE_PIXELS]        # -> (B, 784) logits
    return nn.Sequential(*_mlp(sizes, ACTIVATION_LAYERS[cfg.activation]), nn.Unflatten(1, (1, 28, 28)))


def _conv_encoder(cfg: ModelConfig) -> nn.Module:
    act, c = ACTIVATION_LAYERS[cfg.activation], cfg.channels
    return nn.Sequential(
        nn.Conv2d(1, c, 4, stride=2, padding=1), act(),          # (B, c, 14, 14)
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), act(),      # (B, 2c, 7, 7)
        nn.Flatten(),
        nn.Linear(2 * c * 49, cfg.hidden), act(),
        nn.Linear(cfg.hidden, 2 * cfg.latent_dim),
    )


def _conv_decoder(cfg: ModelConfig) -> nn.Module:
    act, c = ACTIVATION_LAYERS[cfg.activation], cfg.channels
    return nn.Sequential(
        nn.Linear(cfg.latent_dim, cfg.hidden), act(),
        nn.Linear(cfg.hidden, 2 * c * 49), act(),
        nn.Unflatten(1, (2 * c, 7, 7)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), act(),   # (B, c, 14, 14)
        nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),              # (B, 1, 28, 28) logits
    )


class VAE(nn.Module):
    """q(z|x) = N(mean, diag(exp(logvar))), p(z) = N(0, I), p(x|z) = Bernoulli(sigmoid(logits))."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        build = {"mlp": (_mlp_encoder, _mlp_decoder), "conv": (_conv_encoder, _conv_decoder)}[self.config.arch]
        self.encoder, self.decoder = build[0](self.config), build[1](self.config)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, 28, 28) or (B, 784) in [0, 1] -> (mean, logvar), each (B, latent).

        The log-variance is bounded to [LOGVAR_MIN, LOGVAR_MAX]: past them exp() overflows to inf or
        underflows to 0 in float32 and one wild step turns the loss into NaN. Trained models stay far
        inside (the shipped one spans -11.0 to -0.9), so the bound changes none of their outputs."""
        x = x.reshape(-1, 1, 28, 28)
        mean, logvar = self.encoder(x).chunk(2, dim=-1)
        return mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent) -> Bernoulli logits (B, 1, 28, 28)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent) -> pixel probabilities in [0, 1], (B, 1, 28, 28)."""
        return torch.sigmoid(self.decoder(z))

    @staticmethod
    def reparameterize(mean, logvar, generator: torch.Generator | None = None, eps: torch.Tensor | None = None):
        """z = mean + sigma * eps: the sample stays differentiable in mean and logvar. eps is standard
        normal noise, drawn here (from `generator` when given) unless the caller gives it."""
        if eps is None and generator is None:
            eps = torch.randn_like(mean)
        elif eps is None:
            eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + torch.exp(0.5 * logvar) * eps

    def forward(self, x, generator: torch.Generator | None = None):
        """-> (logits (B, 1, 28, 28), mean, logvar) for one sample z ~ q(z|x)."""
        mean, logvar = self.encode(x)
        z = self.reparameterize(mean, logvar, generator)
        return self.decode_logits(z), mean, logvar

    @torch.no_grad()
    def init_output_bias(self, mean_image: torch.Tensor) -> None:
        """Start the decoder at the data's mean image: its output bias becomes logit(mean pixel).

        Before any training, every decoding is then the average digit rather than grey noise,
        so the first steps spend nothing on learning the background: about 2 nats better after
        two epochs here. A per-pixel bias (MLP) takes the mean image, a per-channel one (conv)
        its overall mean."""
        p = mean_image.float().clamp(1e-3, 1 - 1e-3)
        bias = self.decoder[-2].bias if self.config.arch == "mlp" else self.decoder[-1].bias
        bias.copy_(torch.logit(p).flatten() if bias.numel() == p.numel() else torch.logit(p.mean()).expand_as(bias))


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) in closed form, summed over latent dims: (B,)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) of a Bernoulli decoder, summed over the 784 pixels: (B,).

    Computed from logits (binary_cross_entropy_with_logits) so that confident
    pixels never hit log(0)."""
    x = x.reshape(logits.shape)
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1)


def negative_elbo(logits, x, mean, logvar, *, beta: float = 1.0):
    """The negative ELBO in nats per image, averaged over the batch: (loss, recon, kl).

    Both terms are *sums* over their dimensions (784 pixels, latent dims) before
    the batch mean. The tutorial this project grew from averages the BCE over
    pixels but sums the KL: that shrinks the reconstruction term 784-fold, so the
    KL dominates, q(z|x) collapses onto the prior and every digit decodes to the
    same blur. `beta` weighs the KL for beta-VAE training and KL warm-up; the
    reported loss is always the true bound (beta = 1) only when beta is 1.
    """
    recon = reconstruction_nll(logits, x).mean()
    kl = kl_divergence(mean, logvar).mean()
    return recon + beta * kl, recon, kl


def log_normal(z, mean, logvar):
    """log N(z; mean, exp(logvar)) summed over the last dim."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mean).pow(2) * torch.exp(-logvar)).sum(dim=-1)

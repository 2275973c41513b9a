"""What the dashboard calls: encode, decode points and grids, reconstruct. No gradients, the model's device."""
from __future__ import annotations

import numpy as np
import torch

from .data import to_float
from .model import VAE


def _as_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 28, 28) or float in [0, 1] of shape (B, 784) / (B, 1, 28, 28) / (B, 28, 28) -> float (B, 1, 28, 28)."""
    if images.dtype == torch.uint8:
        return to_float(images.reshape(-1, 28, 28))
    return images.float().reshape(-1, 1, 28, 28)


@torch.inference_mode()
def encode_dataset(model: VAE, images: torch.Tensor, *, batch_size: int = 2000) -> np.ndarray:
    """Latent means of all `images`, batched: (N, latent_dim) float32 numpy."""
    out = [model.encode(_as_float_images(chunk).to(model.device))[0].cpu() for chunk in images.split(batch_size)]
    return torch.cat(out).numpy()


@torch.inference_mode()
def decode_points(model: VAE, points) -> np.ndarray:
    """Latent points (B, latent_dim) -> decoded pixel probabilities (B, 28, 28) float32 numpy."""
    z = torch.as_tensor(np.asarray(points, dtype=np.float32), device=model.device).reshape(-1, model.latent_dim)
    return model.decode(z)[:, 0].cpu().numpy()


def embed_2d(model: VAE, xy, dims: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Points of a 2-D view (B, 2) -> full latent points with the other dimensions held at 0."""
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    z = np.zeros((len(xy), model.latent_dim), dtype=np.float32)
    z[:, dims[0]], z[:, dims[1]] = xy[:, 0], xy[:, 1]
    return z


def latent_grid(model: VAE, n: int, extent: tuple[float, float, float, float], *,
                dims: tuple[int, int] = (0, 1)) -> np.ndarray:
    """Decode an n×n grid over extent = (x0, x1, y0, y1) in the plane of `dims` and tile it as one
    image (28n, 28n) with y growing upwards (row 0 is the top, y1), as in Kingma & Welling's figure."""
    xs = np.linspace(extent[0], extent[1], n, dtype=np.float32)
    ys = np.linspace(extent[3], extent[2], n, dtype=np.float32)          # top row first
    gx, gy = np.meshgrid(xs, ys)                                         # (n, n), row-major from the top
    tiles = decode_points(model, embed_2d(model, np.stack([gx.ravel(), gy.ravel()], 1), dims))
    return tiles.reshape(n, n, 28, 28).transpose(0, 2, 1, 3).reshape(28 * n, 28 * n)


@torch.inference_mode()
def reconstruct(model: VAE, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Decode the latent means of `images`: (reconstructions (B, 28, 28), latent means (B, latent_dim))."""
    mean, _ = model.encode(_as_float_images(torch.as_tensor(images)).to(model.device))
    return model.decode(mean)[:, 0].cpu().numpy(), mean.cpu().numpy()


def sample_prior(model: VAE, count: int, *, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """`count` latent points z ~ N(0, temperature² I), reproducible from `seed` (a private generator,
    never the global random state): (count, latent_dim) float32."""
    generator = torch.Generator().manual_seed(int(seed))
    return (temperature * torch.randn(count, model.latent_dim, generator=generator)).numpy()


def interpolate(a, b, steps: int, *, mode: str = "linear") -> np.ndarray:
    """`steps` points from a to b inclusive, (steps, D) float32. "linear": evenly along the segment.
    "slerp": along the great circle at evenly spaced angles, with the norm going linearly from |a| to
    |b| (for a Gaussian prior, where typical points lie near a sphere, not on the chord through it)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if mode == "linear":
        return ((1 - t) * a + t * b).astype(np.float32)
    if mode != "slerp":
        raise ValueError(f"mode must be 'linear' or 'slerp', got {mode!r}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return ((1 - t) * a + t * b).astype(np.float32)            # no direction to turn through
    ua, ub = a / na, b / nb
    theta = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if theta < 1e-6:
        direction = (1 - t) * ua + t * ub
    else:
        direction = (np.sin((1 - t) * theta) * ua + np.sin(t * theta) * ub) / np.sin(theta)
    return (direction * ((1 - t) * na + t * nb)).astype(np.float32)


@torch.inference_mode()
def posterior(model: VAE, image) -> tuple[np.ndarray, np.ndarray]:
    """q(z|x) of one image (28, 28) uint8 or [0, 1]: (mean (D,), standard deviation (D,))."""
    mean, logvar = model.encode(_as_float_images(torch.as_tensor(np.asarray(image))[None]).to(model.device))
    return mean[0].cpu().numpy(), torch.exp(0.5 * logvar[0]).cpu().numpy()


def nearest(encodings: np.ndarray, z, count: int, *, exclude: int | None = None) -> np.ndarray:
    """Indices of the `count` rows of encodings (N, D) nearest to z in Euclidean distance, nearest
    first, leaving out row `exclude`."""
    distance = np.linalg.norm(encodings - np.asarray(z, dtype=encodings.dtype), axis=1)
    if exclude is not None:
        distance[exclude] = np.inf
    order = np.argpartition(distance, count)[:count]
    return order[np.argsort(distance[order])]

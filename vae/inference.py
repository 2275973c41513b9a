"""What the dashboard calls: encode, decode points and grids, reconstruct. No gradients, the model's device."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .data import to_float
from .model import VAE


@torch.inference_mode()
def encode_dataset(model: VAE, images: torch.Tensor, *, batch_size: int = 2000) -> np.ndarray:
    """Latent means of all `images`, batched: (N, latent_dim) float32 numpy."""
    out = [model.encode(to_float(chunk).to(model.device))[0].cpu() for chunk in images.split(batch_size)]
    return torch.cat(out).numpy()


@torch.inference_mode()
def dimension_kl(model: VAE, images: torch.Tensor, *, batch_size: int = 2000) -> np.ndarray:
    """Each latent dimension's KL(q(z_i|x) ‖ N(0, 1)) in nats, averaged over `images`: (latent_dim,)
    float64. Their sum is the ELBO's KL term; a dimension near 0 is inactive (the decoder ignores it)."""
    total = torch.zeros(model.latent_dim, dtype=torch.float64)
    for chunk in images.split(batch_size):
        mean, logvar = model.encode(to_float(chunk).to(model.device))
        kl = 0.5 * (mean.double() ** 2 + logvar.double().exp() - 1 - logvar.double())
        total += kl.sum(0).cpu()
    return (total / max(len(images), 1)).numpy()


@torch.inference_mode()
def decode_points(model: VAE, points) -> np.ndarray:
    """Latent points (B, latent_dim) -> decoded pixel probabilities (B, 28, 28) float32 numpy."""
    z = torch.as_tensor(np.asarray(points, dtype=np.float32), device=model.device).reshape(-1, model.latent_dim)
    return model.decode(z)[:, 0].cpu().numpy()


@torch.inference_mode()
def reconstruct(model: VAE, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Decode the latent means of `images`: (reconstructions (B, 28, 28), latent means (B, latent_dim))."""
    mean, _ = model.encode(to_float(images).to(model.device))
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
    mean, logvar = model.encode(to_float(np.asarray(image)).to(model.device))
    return mean[0].cpu().numpy(), torch.exp(0.5 * logvar[0]).cpu().numpy()


def nearest(encodings: np.ndarray, z, count: int, *, exclude: int | None = None) -> np.ndarray:
    """Indices of the `count` rows of encodings (N, D) nearest to z in Euclidean distance, nearest
    first, leaving out row `exclude`."""
    distance = np.linalg.norm(encodings - np.asarray(z, dtype=encodings.dtype), axis=1)
    if exclude is not None:
        distance[exclude] = np.inf
    order = np.argpartition(distance, count)[:count]
    return order[np.argsort(distance[order])]


@dataclass(frozen=True)
class PlaneBasis:
    """A plane through latent space: the point (x, y) of the plane is origin + x·u + y·v, with u and
    v orthonormal. Two latent dimensions i, j: u, v are the unit vectors e_i, e_j and the origin holds
    the other dimensions (at 0, or at a chosen digit's values). PCA: u, v are the first two principal
    components of the test encodings and the origin is their mean."""
    origin: np.ndarray      # (D,)
    u: np.ndarray           # (D,)
    v: np.ndarray           # (D,)

    def to_latent(self, xy) -> np.ndarray:
        """Points of the plane (N, 2) -> latent points (N, D) float32."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return (self.origin + xy[:, :1] * self.u + xy[:, 1:] * self.v).astype(np.float32)

    def to_plane(self, z) -> np.ndarray:
        """Latent points (N, D) -> their orthogonal projections onto the plane (N, 2) float32."""
        centred = np.asarray(z, dtype=np.float64).reshape(-1, len(self.origin)) - self.origin
        return np.stack([centred @ self.u, centred @ self.v], axis=1).astype(np.float32)

    def spread(self, std) -> tuple[float, float]:
        """Standard deviations along u and v of a diagonal Gaussian with per-dimension `std`."""
        var = np.asarray(std, dtype=np.float64) ** 2
        return float(np.sqrt(var @ self.u ** 2)), float(np.sqrt(var @ self.v ** 2))


def latent_grid(model: VAE, basis: PlaneBasis, n: int, extent) -> np.ndarray:
    """Decode an n×n grid spanning extent = (x0, x1, y0, y1) of the plane `basis`, edge to edge, tiled
    as one image (28n, 28n) with y growing upwards (row 0 is the top, y1), as in Kingma & Welling's figure."""
    xs = np.linspace(extent[0], extent[1], n)
    ys = np.linspace(extent[3], extent[2], n)                           # top row first
    gx, gy = np.meshgrid(xs, ys)                                         # (n, n), row-major from the top
    tiles = decode_points(model, basis.to_latent(np.stack([gx.ravel(), gy.ravel()], 1)))
    return tiles.reshape(n, n, 28, 28).transpose(0, 2, 1, 3).reshape(28 * n, 28 * n)


def dims_basis(latent_dim: int, dims: tuple[int, int], held=None) -> PlaneBasis:
    """The plane of latent dimensions dims[0] (x) and dims[1] (y); the others held at `held` (D,), else 0."""
    eye = np.eye(latent_dim)
    origin = np.zeros(latent_dim) if held is None else np.asarray(held, dtype=np.float64).copy()
    origin[list(dims)] = 0.0
    return PlaneBasis(origin, eye[dims[0]], eye[dims[1]])


def pca_basis(encodings: np.ndarray) -> tuple[PlaneBasis, np.ndarray]:
    """The plane of the first two principal components of `encodings` (N, D) through their mean, and
    the share of the variance each component explains (D,). Signs are fixed so each component's
    largest coordinate is positive (the same plane on every run)."""
    z = np.asarray(encodings, dtype=np.float64)
    mean = z.mean(axis=0)
    _, singular, vt = np.linalg.svd(z - mean, full_matrices=False)
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]
    explained = singular ** 2 / np.sum(singular ** 2)
    return PlaneBasis(mean, vt[0], vt[1]), explained


def chosen_plane(latent_dim: int, choice: tuple, encodings: np.ndarray) -> tuple[PlaneBasis, tuple[str, str], str | None]:
    """The plane a view choice names, its axes' names and what a page says about it (None for a 2-D
    model). `choice` is ("pca",) or ("dims", (x, y), hold): dimensions x and y, the others at test
    image #hold's code (None: at 0)."""
    if choice[0] == "pca":
        basis, explained = pca_basis(encodings)
        return basis, ("PC1", "PC2"), (
            f"PCA view: the plane of the first two principal components of the test encodings "
            f"({explained[0]:.0%} and {explained[1]:.0%} of their variance), through their mean; "
            f"decoding maps a point back with the other {latent_dim - 2} components at their mean.")
    _, (x, y), hold = choice
    held = encodings[hold] if hold is not None else None
    others = f"the other {latent_dim - 2} held at " + (f"test image #{hold}'s values" if hold is not None else "0")
    note = None if latent_dim == 2 else f"Dimensions view: z{x} against z{y}, {others} when decoding."
    return dims_basis(latent_dim, (x, y), held), (f"z{x}", f"z{y}"), note


def plane_extent(points: np.ndarray, *, coverage: float = 99.5, pad: float = 0.1) -> tuple[float, float, float, float]:
    """A square (x0, x1, y0, y1) around the bulk of `points` (N, 2), padded and rounded out to 0.5,
    so that equal-aspect axes fill a square plot."""
    lo = np.percentile(points, 100 - coverage, axis=0)
    hi = np.percentile(points, coverage, axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + pad)
    x0, y0 = np.floor((centre - half) * 2) / 2
    x1, y1 = np.ceil((centre + half) * 2) / 2
    side = max(x1 - x0, y1 - y0)                                   # keep it square after rounding
    return float(x0), float(x0 + side), float(y0), float(y0 + side)


def lattice(extent, n: int) -> np.ndarray:
    """The centres of an n×n lattice of equal cells tiling extent = (x0, x1, y0, y1), row-major with
    row 0 at the top (y1) and column 0 at the left (x0), as an image of the extent is laid out: (n·n, 2)."""
    x0, x1, y0, y1 = (float(v) for v in extent)
    steps = (np.arange(n) + 0.5) / n
    gx, gy = np.meshgrid(x0 + steps * (x1 - x0), y1 - steps * (y1 - y0))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


@torch.inference_mode()
def decoder_map(model: VAE, classifier: torch.nn.Module, basis: PlaneBasis, extent, n: int = 100, *,
                precision: torch.dtype | None = torch.bfloat16, batch_size: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    """What `classifier` reads in the decoding of each cell centre of an n×n lattice over extent
    (x0, x1, y0, y1) of the plane `basis` (see `lattice`): (class (n, n) int64, confidence (n, n) float32,
    the softmax's largest probability). Row 0 is the top of the extent.

    `precision` runs the decoder and the classifier under autocast in that dtype (bfloat16: two to three
    times faster than float32 on a CPU with AVX-512 BF16; on the shipped model 95 % of the confidences
    are within 0.01 of float32's, and a few cells on class boundaries change class); None keeps float32."""
    z = torch.as_tensor(basis.to_latent(lattice(extent, n)), device=model.device)
    device = next(classifier.parameters()).device
    autocast = precision is not None and model.device.type in ("cpu", "cuda") and device.type == model.device.type
    classes, confidence = [], []
    with torch.autocast(model.device.type, dtype=precision or torch.float32, enabled=autocast):
        for chunk in z.split(batch_size):
            logits = classifier(model.decode(chunk).to(device))        # (B, 1, 28, 28) in [0, 1] -> (B, classes)
            best = logits.float().softmax(dim=1).max(dim=1)
            confidence.append(best.values.cpu())
            classes.append(best.indices.cpu())
    return torch.cat(classes).numpy().reshape(n, n), torch.cat(confidence).numpy().reshape(n, n)


def confident_share(confidence: np.ndarray, threshold: float = 0.9) -> float:
    """The share of a decoder map's cells (so of its extent's area: the cells are equal) whose
    decoding the classifier reads with at least `threshold` confidence."""
    return float(np.mean(np.asarray(confidence) >= threshold))

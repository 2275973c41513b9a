"""From the dashboard's training form to the two config dataclasses the CLI takes."""
from __future__ import annotations

import math

import torch

from vae.model import ModelConfig
from vae.train import TrainConfig

MNIST_TRAIN_IMAGES = 60_000
CHART_POINTS = 60            # short runs log more often so the live chart still draws a curve


def available_devices() -> list[str]:
    """What the device menu offers: "auto" and "cpu", plus CUDA or Apple MPS only where present."""
    mps = getattr(torch.backends, "mps", None)
    return (["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
            + (["mps"] if mps is not None and mps.is_available() else []))


def configs_from_form(*, epochs: int, latent_dim: int, batch_size: int, lr: float, seed: int, device: str,
                      limit: int, arch: str = "mlp") -> tuple[ModelConfig, TrainConfig]:
    """Build and check the configs; raises ValueError with a message meant for the person filling the form."""
    if not 0 <= limit <= MNIST_TRAIN_IMAGES:
        raise ValueError(f"The training subset must be between 0 (all) and {MNIST_TRAIN_IMAGES:,} images.")
    if lr <= 0 or lr > 1:
        raise ValueError("The learning rate must be above 0 and at most 1 (the default, 2e-3, is a good start).")
    if latent_dim < 2:
        raise ValueError("The latent size must be at least 2, so that the latent plane can be drawn.")
    if device not in available_devices():
        raise ValueError(f"Device {device!r} is not available here; choose one of {available_devices()}.")
    images = limit or MNIST_TRAIN_IMAGES
    steps = int(epochs) * math.ceil(images / max(int(batch_size), 1))
    log_every = max(1, min(TrainConfig.log_every, steps // CHART_POINTS))
    model_cfg = ModelConfig(latent_dim=int(latent_dim), arch=arch)
    train_cfg = TrainConfig(epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), seed=int(seed),
                            device=device, limit=int(limit), log_every=log_every)
    return model_cfg, train_cfg

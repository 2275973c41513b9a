"""How much memory training a configuration needs, known before it starts, so that the training form can
refuse one that cannot fit (hidden 4096, depth 8 and a batch of 60,000 would ask for tens of GB).

Counted, in float32 bytes, from the configs alone (no model is built: the one being judged may not fit):
- the weights four times and a half over: the weights, their gradients, Adam's two moments, the averaged
  copy the trainer tests with (vae.train), and half of one more for torch.save's buffers at a checkpoint;
- one step's activations: for a batch, each layer's activated output (autograd keeps it for the backward
  pass; the pre-activations are freed), twice over for the convolutions (their CPU kernels' workspace),
  plus the batch's images, logits and loss terms, and a fixed STEP_OVERHEAD;
- the data: the training and test images as uint8 tensors (the trainer converts one batch at a time);
- a Python process with torch and vae loaded (RUNTIME: 760 MB measured, and 30 MB of kernels' code
  paged in by the first steps).
tests/test_memory.py holds the estimate to a measured peak (getrusage's maxrss) of real training steps."""
from __future__ import annotations

import os
from dataclasses import dataclass

from .messages import N_, say
from .model import IMAGE_PIXELS, ModelConfig

FLOAT = 4                          # bytes of a float32
WEIGHT_COPIES = 4.5                # weights, gradients, Adam's two moments, the averaged copy, checkpoint buffers
ACTIVATION_COPIES = {"mlp": 1, "conv": 2}   # activated outputs kept for backward (convolutions: and workspace)
BATCH_TENSORS = 8                  # (B, 784) float tensors around the model: input, logits, loss terms, their grads
STEP_OVERHEAD = 16 * 2**20         # autograd's and the allocator's bookkeeping, the scheduler, a step's small tensors
RUNTIME = 800 * 2**20              # a Python process with torch and vae imported, and the kernels' code a step pages in
TRAIN_IMAGES, TEST_IMAGES = 60_000, 10_000     # MNIST's and Fashion-MNIST's


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int                # the model's parameter count
    weights: int                   # bytes: weights and everything kept per weight (WEIGHT_COPIES)
    activations: int               # bytes: one training step's activations and what goes with them
    data: int                      # bytes: the training and test images in memory
    runtime: int = RUNTIME         # bytes: the process before any of it

    @property
    def training(self) -> int:
        """What the configuration adds to the process: weights, activations and data."""
        return self.weights + self.activations + self.data + STEP_OVERHEAD

    @property
    def total(self) -> int:
        return self.training + self.runtime


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def parameter_count(cfg: ModelConfig) -> int:
    """The parameters of vae.model.VAE(cfg), counted from the config (tests/test_memory.py checks it against
    the model)."""
    h, z = cfg.hidden, cfg.latent_dim
    if cfg.arch == "mlp":
        encoder = _linear(IMAGE_PIXELS, h) + (cfg.depth - 1) * _linear(h, h) + _linear(h, 2 * z)
        decoder = _linear(z, h) + (cfg.depth - 1) * _linear(h, h) + _linear(h, IMAGE_PIXELS)
        return encoder + decoder
    c = cfg.channels
    convs = (1 * c * 16 + c) + (c * 2 * c * 16 + 2 * c)                   # 4×4 kernels: 1 -> c -> 2c
    encoder = convs + _linear(2 * c * 49, h) + _linear(h, 2 * z)
    decoder = _linear(z, h) + _linear(h, 2 * c * 49) + (2 * c * c * 16 + c) + (c * 1 * 16 + 1)
    return encoder + decoder


def activation_floats(cfg: ModelConfig) -> int:
    """Floats autograd keeps for one image through the encoder and the decoder: each layer's output after
    its activation (the activation keeps it, the next layer takes it as input), and the mean, log-variance,
    z and logits."""
    h, z = cfg.hidden, cfg.latent_dim
    if cfg.arch == "mlp":
        return 2 * cfg.depth * h + 2 * z + z + IMAGE_PIXELS                # encoder's and decoder's hidden layers
    c = cfg.channels
    maps = (c * 14 * 14 + 2 * c * 7 * 7) * 2                               # (c, 14, 14) and (2c, 7, 7), each way
    return maps + h + 2 * z + z + h + 2 * c * 49 + IMAGE_PIXELS


def estimate_training_memory(model_cfg: ModelConfig, train_cfg) -> MemoryEstimate:
    """Peak memory of training `model_cfg` with `train_cfg` (vae.train.TrainConfig) in one process, in bytes."""
    parameters = parameter_count(model_cfg)
    train_images = min(train_cfg.limit, TRAIN_IMAGES) if train_cfg.limit else TRAIN_IMAGES
    batch = min(train_cfg.batch_size, train_images)
    activations = batch * FLOAT * (ACTIVATION_COPIES[model_cfg.arch] * activation_floats(model_cfg)
                                   + BATCH_TENSORS * IMAGE_PIXELS)
    data = (train_images + TEST_IMAGES) * IMAGE_PIXELS                    # uint8
    return MemoryEstimate(parameters, int(parameters * FLOAT * WEIGHT_COPIES), activations, data)


def available_memory(device=None) -> int | None:
    """Bytes a new training process can still have: on a CUDA `device` (a torch.device), the GPU's free
    memory; else this machine's (MemAvailable in /proc/meminfo; elsewhere the physical memory). None when
    it cannot be read."""
    if getattr(device, "type", None) == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):
            return None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(n: float) -> str:
    """Bytes as a person reads them: 820 MB, 3.4 GB."""
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{max(n, 1e6) / 1e6:.0f} MB"


def memory_refusal(estimate: MemoryEstimate, available: int | None) -> str | None:
    """Why a run that needs `estimate` cannot start with `available` bytes free, or None when it fits."""
    if available is None or estimate.total <= available:
        return None
    return say(N_("This configuration needs about {total} of memory to train ({parameters} parameters: {weights} "
                  "with their gradients and Adam's moments; {activations} of activations per batch), and this "
                  "machine has {free} free. Choose a smaller hidden size, depth or batch size."),
               total=size_text(estimate.total), parameters=f"{estimate.parameters:,}",
               weights=size_text(estimate.weights), activations=size_text(estimate.activations),
               free=size_text(available))

"""Self-describing checkpoints that load without unpickling code.

A checkpoint is a plain dict of tensors, strings and numbers saved with
`torch.save` and read back with `torch.load(weights_only=True)`:
  format, format_version, model_state, meta (model/train config, dataset, epoch,
  metrics, package version) and, for resumable run checkpoints, optimizer state.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .files import atomic_path
from .model import VAE, ModelConfig

FORMAT = "vae-latent-explorer/checkpoint"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """The file is not a usable checkpoint; the message names the file."""


def _first_line(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0][:200]


def save_checkpoint(path, model: VAE, meta: dict, *, extra: dict | None = None, half: bool = False) -> None:
    """Write atomically: a temporary file in the same folder, then rename.

    half=True stores the floating-point weights as float16 (half the file); loading casts them back
    to float32. Integer tensors (counters, indices) keep their dtype: float16 would round them."""
    meta = {**meta, "model_config": model.config.to_dict(), "latent_dim": model.latent_dim}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "model_state": state,
               "meta": meta, **(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path, map_location="cpu") -> dict:
    """The raw checkpoint dict, validated; raises CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or not a torch file?): "
                              f"{type(exc).__name__}: {_first_line(exc)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a VAE Latent Explorer checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {payload.get('format_version')} "
                              f"is not supported (this version reads {FORMAT_VERSION})")
    return payload


def load_checkpoint(path, map_location="cpu") -> tuple[VAE, dict]:
    """(model in eval mode, meta), rebuilt from the checkpoint alone."""
    payload = read_checkpoint(path, map_location)
    meta = payload["meta"]
    try:
        model = VAE(ModelConfig(**meta["model_config"]))
        model.load_state_dict(payload["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the model it describes: "
                              f"{_first_line(exc)}") from None
    model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu")
    return model.eval(), meta


def export_checkpoint(src, dst, *, half: bool = False) -> dict:
    """Copy a run checkpoint without its optimizer state (and, with half, in float16): the file to ship."""
    model, meta = load_checkpoint(src)
    save_checkpoint(dst, model, {**meta, "weights_dtype": "float16" if half else "float32"}, half=half)
    return meta

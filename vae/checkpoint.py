"""Self-describing checkpoints that load without unpickling code.

A checkpoint is a plain dict of tensors, strings and numbers saved with
`torch.save` and read back with `torch.load(weights_only=True)`:
  format, format_version, model_state, meta (model/train config, dataset, epoch,
  metrics, package version), for resumable run checkpoints the trainer state, and
  checksum: a sha256 over every tensor and number outside meta, verified on reading,
  so a flipped bit is an error rather than a model that quietly decodes garbage.
"""
from __future__ import annotations

import hashlib
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
    payload["checksum"] = checksum(payload)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def checksum(payload: dict) -> str:
    """sha256 over everything in the checkpoint but its meta (and the checksum itself): every
    tensor's name, dtype, shape and bytes, and every other value, in a fixed order."""
    digest = hashlib.sha256()

    def feed(obj) -> None:
        if isinstance(obj, torch.Tensor):
            tensor = obj.detach().cpu().contiguous()
            digest.update(f"tensor {tensor.dtype} {tuple(tensor.shape)}:".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, dict):
            for key in sorted(obj, key=repr):
                digest.update(f"key {key!r}:".encode())
                feed(obj[key])
        elif isinstance(obj, (list, tuple)):
            digest.update(f"list {len(obj)}:".encode())
            for item in obj:
                feed(item)
        else:
            digest.update(f"value {obj!r};".encode())

    feed({k: v for k, v in payload.items() if k not in ("meta", "checksum")})
    return digest.hexdigest()


def read_checkpoint(path, map_location="cpu") -> dict:
    """The raw checkpoint dict, validated; raises CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        # torch's weights-only messages go on to explain how to load the file unsafely: never passed on
        if "Unsupported global" in str(exc):
            raise CheckpointError(f"{path}: holds Python objects besides tensors and plain data; it is refused "
                                  "because loading those could run code. Checkpoints of this project never "
                                  "hold any.") from None
        first = _first_line(exc)
        detail = f": {first}" if first and "weights_only" not in str(exc) else ""
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or not a torch file?): "
                              f"{type(exc).__name__}{detail}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a VAE Latent Explorer checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {payload.get('format_version')} "
                              f"is not supported (this version reads {FORMAT_VERSION})")
    for key in ("meta", "model_state"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path}: the checkpoint has no {key}")
    # Files written before checksums existed (the format is otherwise the same) are read unverified.
    if "checksum" in payload and payload["checksum"] != checksum(payload):
        raise CheckpointError(f"{path}: the checksum of its tensors does not match: the file is corrupted "
                              "(a flipped bit, or an edit) and its weights cannot be trusted")
    return payload


def load_checkpoint(path, map_location="cpu") -> tuple[VAE, dict]:
    """(model in eval mode, meta), rebuilt from the checkpoint alone."""
    payload = read_checkpoint(path, map_location)
    meta = payload["meta"]
    try:
        config = ModelConfig(**meta["model_config"])
        _check_shapes(config, payload["model_state"])      # before allocating what the config declares
        model = VAE(config)
        model.load_state_dict(payload["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the model it describes: "
                              f"{_first_line(exc)}") from None
    model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu")
    return model.eval(), meta


def _check_shapes(config: ModelConfig, state: dict) -> None:
    """Compare the tensors the config declares with those in the file, without allocating the model
    (built on the meta device: shapes only). A small file declaring a huge model is refused here."""
    with torch.device("meta"):
        declared = {name: tuple(t.shape) for name, t in VAE(config).state_dict().items()}
    held = {name: tuple(t.shape) for name, t in state.items() if isinstance(t, torch.Tensor)}
    if declared != held:
        size = sum(torch.Size(shape).numel() for shape in declared.values())
        wrong = sorted(set(declared.items()) ^ set(held.items()))[:2]
        raise ValueError(f"its config declares {size:,} parameters in other shapes than the file holds "
                         f"(first differences: {wrong})")


def export_checkpoint(src, dst, *, half: bool = False) -> dict:
    """Copy a run checkpoint without its optimizer state (and, with half, in float16): the file to ship."""
    model, meta = load_checkpoint(src)
    save_checkpoint(dst, model, {**meta, "weights_dtype": "float16" if half else "float32"}, half=half)
    return meta

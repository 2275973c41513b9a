"""Self-describing checkpoints that load without unpickling code.

A checkpoint is a plain dict of tensors, strings and numbers saved with
`torch.save` and read back with `torch.load(weights_only=True)`:
  format, format_version, model_state, meta (model/train config, dataset, epoch,
  metrics, package version), for resumable run checkpoints the trainer state, and
  checksum: a sha256 over everything else in the file, meta included, required and verified on
  reading, so a flipped bit or an edit (relu made sigmoid) is an error rather than a model that
  quietly decodes garbage. It guards against accidents, not forgery: whoever edits a file can
  recompute it, so what a checksum cannot vouch for (finite weights, shapes that fit the config,
  a size that fits the file) is checked on its own.

`load_plain` is the one guarded torch.load, shared with the classifier's files.
"""
from __future__ import annotations

import hashlib
import zipfile
from functools import lru_cache
from pathlib import Path

import torch

from .files import atomic_path
from .messages import N_, Message, message_of, say
from .model import VAE, ModelConfig

FORMAT = "vae-latent-explorer/checkpoint"
FORMAT_VERSION = 2      # 2: the checksum covers the meta and is required; 1's covered the tensors alone
# torch.save stores a checkpoint's records uncompressed, so what they declare once inflated is about the
# file's own size. More than twice that (plus room for a tiny file) is a deflated bomb: refused unread.
INFLATION_FACTOR, INFLATION_SLACK = 2, 1 << 20
# What load_plain says of a file of each kind that is missing, or that torch cannot read.
KINDS = {"checkpoint": (N_("no such checkpoint file"),
                        N_("not a readable checkpoint (truncated or not a torch file?): {error}")),
         "digit-classifier": (N_("no such digit-classifier file"),
                              N_("not a readable digit-classifier (truncated or not a torch file?): {error}"))}


class CheckpointError(RuntimeError):
    """The file is not a usable checkpoint; the message names the file ("{path}: {problem}", vae.messages)."""


def refused(path, problem, **params) -> CheckpointError:
    """CheckpointError "<path>: <problem>", `problem` a template (marked N_) filled in from `params`."""
    return CheckpointError(say(N_("{path}: {problem}"), path=str(path), problem=say(problem, **params)))


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
    save_payload(seal(payload), path)


def save_payload(payload: dict, path) -> None:
    """torch.save `payload` to `path` atomically, through an open file: on a full disk the error is the
    write's OSError naming `path` ("[Errno 28] No space left on device: '…/checkpoint.pt'"). Given a path,
    torch.save's own writer says only "unexpected pos 704 vs 598"; given a file, the write's OSError is
    raised but torch's closing of the archive then masks it with that RuntimeError, so it is unmasked here."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        try:
            torch.save(payload, handle)
        except RuntimeError as exc:
            if isinstance(exc.__context__, OSError):
                raise exc.__context__ from None
            raise


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

    feed({k: v for k, v in payload.items() if k != "checksum"})
    return digest.hexdigest()


def seal(payload: dict) -> dict:
    """The payload with its checksum set: what a writer saves."""
    payload["checksum"] = checksum(payload)
    return payload


def verify(path, payload: dict, *, remedy: str) -> None:
    """CheckpointError naming the file unless its checksum is there and matches, and its tensors are finite.
    `remedy` (a message, vae.messages) ends the message for a file from before checksums were written."""
    if "checksum" not in payload:
        raise refused(path, N_("has no checksum, so nothing in it can be verified; {remedy}"), remedy=remedy)
    if payload["checksum"] != checksum(payload):
        raise refused(path, N_("its checksum does not match its tensors and metadata: the file is corrupted (a "
                               "flipped bit, or an edit) and cannot be trusted"))
    where = _non_finite(payload)
    if where:
        raise refused(path, N_("{where} holds NaN or infinite values: these weights compute nothing but NaN, so the "
                               "file is refused"), where=where)


def _non_finite(obj, name: str = "") -> str | None:
    """The name of the first floating-point tensor in `obj` that is not all finite, else None."""
    if isinstance(obj, torch.Tensor):
        return (name or "a tensor") if obj.is_floating_point() and not torch.isfinite(obj).all() else None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        found = _non_finite(value, f"{name}.{key}" if name else str(key))
        if found:
            return found
    return None


@lru_cache(maxsize=64)
def _inflation_refusal(path: str, mtime_ns: int, size: int) -> Message | None:
    """Why a file is refused before torch.load inflates it, or None. Read from the zip's directory alone
    (each record's declared size), and remembered per file version: a page that offers a refused file
    on every visit asks again for nothing."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None            # not a zip (or a broken one): torch.load then says what is wrong
    if declared <= INFLATION_FACTOR * size + INFLATION_SLACK:
        return None
    return say(N_("its records declare {declared} MB once inflated, from a file of {size} MB; checkpoints are "
                  "stored uncompressed, so it is refused unread"), declared=f"{declared / 1e6:,.0f}",
               size=f"{size / 1e6:,.1f}")


def load_plain(path, map_location="cpu", *, kind: str = "checkpoint"):
    """torch.load(weights_only=True) of a file of this project (a `kind`): tensors and plain data only,
    its declared size checked first; CheckpointError naming the file when it cannot be read."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not path.is_file():
        raise refused(path, KINDS[kind][0])
    refusal = _inflation_refusal(str(path), stat.st_mtime_ns, stat.st_size)
    if refusal:
        raise CheckpointError(say(N_("{path}: {problem}"), path=str(path), problem=refusal))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        # torch's weights-only messages go on to explain how to load the file unsafely: never passed on
        if "Unsupported global" in str(exc):
            raise refused(path, N_("holds Python objects besides tensors and plain data; it is refused because "
                                   "loading those could run code. Files of this project never hold any.")) from None
        first = _first_line(exc)
        detail = f": {first}" if first and "weights_only" not in str(exc) else ""
        raise refused(path, KINDS[kind][1], error=f"{type(exc).__name__}{detail}") from None


def read_checkpoint(path, map_location="cpu") -> dict:
    """The raw checkpoint dict, validated; raises CheckpointError naming the file."""
    payload = load_plain(path, map_location)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise refused(path, N_("not a VAE Latent Explorer checkpoint"))
    if payload.get("format_version") == 1:
        raise refused(path, N_("written by an earlier version (checkpoint format 1), whose checksum left the "
                               "metadata (activation, dataset) unchecked; this version reads only format {version}: "
                               "train the model again"), version=FORMAT_VERSION)
    if payload.get("format_version") != FORMAT_VERSION:
        raise refused(path, N_("checkpoint format version {found} is not supported (this version reads {version})"),
                      found=str(payload.get("format_version")), version=FORMAT_VERSION)
    for key in ("meta", "model_state"):
        if not isinstance(payload.get(key), dict):
            raise refused(path, N_("the checkpoint has no {key}"), key=key)
    verify(path, payload, remedy=say(N_("train the model again")))
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
        raise refused(path, N_("weights do not fit the model it describes: {error}"),
                      error=exc.args[0] if message_of(exc) and str(exc) == _first_line(exc) else _first_line(exc)) from None
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
        raise ValueError(say(N_("its config declares {size} parameters in other shapes than the file holds (first "
                                "differences: {wrong})"), size=f"{size:,}", wrong=str(wrong)))


def export_checkpoint(src, dst, *, half: bool = False) -> dict:
    """Copy a run checkpoint without its optimizer state (and, with half, in float16): the file to ship."""
    model, meta = load_checkpoint(src)
    save_checkpoint(dst, model, {**meta, "weights_dtype": "float16" if half else "float32"}, half=half)
    return meta

"""Training replay: the test set's encodings saved while a model trains, so the dashboard can show
the latent clusters forming (or collapsing, at a high β).

A run folder gets replay/index.json, a list of {"step", "epoch", "file"} oldest first, and one
replay/<step>.npy per snapshot: the latent means of the 10,000 test images, float16 (N, latent_dim),
320 kB for a 2-D model. Snapshots are taken a few times during the first epoch, when the clusters
form, and at each epoch end; a run keeps at most MAX_SNAPSHOTS, thinning the older ones.

A diverging run's codes can pass float16's ±65,504, where they would become ±inf: such a snapshot is
kept as float32. Codes that are not numbers at all (a model gone to NaN) are counted in the snapshot's
entry ("nonfinite"), and load_snapshot refuses them, so that no plane is drawn from them unawares.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .files import atomic_path
from .inference import encode_dataset
from .messages import N_, say

FOLDER, INDEX = "replay", "index.json"
MAX_SNAPSHOTS = 60
FLOAT16_MAX = float(np.finfo(np.float16).max)               # 65,504: beyond it float16 holds ±inf
FIRST_EPOCH = (0.0, 0.03, 0.08, 0.15, 0.3, 0.5, 0.75)      # fractions of epoch 1 with a snapshot (0: untrained)


def first_epoch_steps(steps_per_epoch: int) -> list[int]:
    """The steps of the first epoch after which a snapshot is taken (0 is before any step)."""
    return sorted({min(steps_per_epoch - 1, round(f * steps_per_epoch)) for f in FIRST_EPOCH})


def read_index(run_dir) -> list[dict]:
    """The run's snapshots, oldest first; [] when it has none or the index is unreadable."""
    try:
        entries = json.loads((Path(run_dir) / FOLDER / INDEX).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("step"), int)
            and isinstance(e.get("file"), str) and "/" not in e["file"] and isinstance(e.get("epoch"), (int, float))]


class NonFiniteSnapshot(ValueError):
    """A snapshot holding codes that are not finite numbers: a plane cannot place them."""


def load_snapshot(run_dir, entry: dict) -> np.ndarray:
    """One snapshot's encodings (N, latent_dim) float32; NonFiniteSnapshot (a ValueError, as for an unreadable
    file) when some are NaN or infinite: a diverged model's, or a float16 overflow in a replay written before
    large codes were kept as float32."""
    codes = np.load(Path(run_dir) / FOLDER / entry["file"], allow_pickle=False).astype(np.float32)
    bad = int((~np.isfinite(codes)).reshape(len(codes), -1).any(axis=1).sum())
    if bad:
        raise NonFiniteSnapshot(say(N_("The replay's snapshot at step {step} is left out: {bad} of {count} test images "
                                       "have codes that are not finite numbers (the run diverged)."),
                                    step=entry["step"], bad=f"{bad:,}", count=f"{len(codes):,}"))
    return codes


def stored(codes: np.ndarray) -> np.ndarray:
    """Codes as a snapshot keeps them: float16 (half the bytes, finer than a plot's pixels) when every one
    fits it; float32 when not, so that a diverging run's large codes stay what they are, not ±inf."""
    if np.isfinite(codes).all() and np.abs(codes).max(initial=0.0) <= FLOAT16_MAX:
        return codes.astype(np.float16)
    return codes.astype(np.float32)


def thinned(entries: list[dict], limit: int = MAX_SNAPSHOTS) -> list[dict]:
    """At most `limit` entries: while there are too many, every second one of the older half goes
    (the first and the newest always stay), so early training keeps a coarser trace of itself."""
    entries = list(entries)
    while len(entries) > limit:
        half = len(entries) // 2
        older = [e for i, e in enumerate(entries[:half]) if i == 0 or i % 2 == 0]
        entries = older + entries[half:]
    return entries


@torch.inference_mode()
def save_snapshot(run_dir, model, test_images: torch.Tensor, *, step: int, epoch: float) -> None:
    """Encode the test images and add the snapshot to the run's replay, thinning it to MAX_SNAPSHOTS."""
    folder = Path(run_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    codes = encode_dataset(model, test_images)                            # (N, latent_dim) float32
    model.train(was_training)
    name = f"{step:08d}.npy"
    with atomic_path(folder / name) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, stored(codes), allow_pickle=False)
    entry = {"step": step, "epoch": round(float(epoch), 3), "file": name}
    nonfinite = int((~np.isfinite(codes)).any(axis=1).sum())
    if nonfinite:
        entry["nonfinite"] = nonfinite                                    # images whose code is NaN or ±inf
    entries = [e for e in read_index(run_dir) if e["step"] < step]       # a resume re-takes later ones
    kept = thinned(entries + [entry])
    with atomic_path(folder / INDEX) as tmp:
        Path(tmp).write_text(json.dumps(kept))
    for stale in set(p.name for p in folder.glob("*.npy")) - {e["file"] for e in kept}:
        (folder / stale).unlink(missing_ok=True)


def attach(trainer, run_dir) -> None:
    """Take snapshots while `trainer` runs: at the first epoch's chosen steps and at each epoch end, of the
    averaged weights that its test rows and checkpoints hold."""
    early = set(first_epoch_steps(trainer.steps_per_epoch))
    if trainer.step == 0 and 0 in early:
        save_snapshot(run_dir, trainer.averaged, trainer.test_images, step=0, epoch=0.0)

    def on_step(t, event) -> None:
        if t.step in early and t.step < t.steps_per_epoch:
            save_snapshot(run_dir, t.averaged, t.test_images, step=t.step, epoch=t.step / t.steps_per_epoch)

    def on_epoch(t, test) -> None:
        save_snapshot(run_dir, t.averaged, t.test_images, step=t.step, epoch=float(t.epochs_done))

    trainer.on_step.append(on_step)
    trainer.on_epoch.append(on_epoch)

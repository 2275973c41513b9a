"""Which models the dashboard can open: the shipped checkpoint and every finished or stopped run."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vae.checkpoint import CheckpointError, read_checkpoint
from vae.files import PROJECT_ROOT
from vae.runs import CHECKPOINT, list_runs

RUNS_ENV, CHECKPOINT_ENV = "VAE_RUNS_DIR", "VAE_CHECKPOINT"


def runs_root() -> Path:
    """Where training runs live: $VAE_RUNS_DIR, else `runs/` in the project folder (whatever the
    working folder the app was started from)."""
    return Path(os.environ.get(RUNS_ENV, PROJECT_ROOT / "runs"))


def default_checkpoint() -> Path:
    """The model the app opens with: $VAE_CHECKPOINT, else the shipped `checkpoints/mnist-2d.pt`."""
    return Path(os.environ.get(CHECKPOINT_ENV, PROJECT_ROOT / "checkpoints" / "mnist-2d.pt"))


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    label: str          # what the picker shows: name, latent size, epochs, test loss


def describe(name: str, latent_dim, epochs: str, test_loss, state: str = "") -> str:
    loss = f"test −ELBO {test_loss:.1f}" if isinstance(test_loss, (int, float)) else "no test loss yet"
    return " · ".join(part for part in (name, f"z={latent_dim}", epochs, state, loss) if part)


def shipped_choice(path: Path) -> ModelChoice | None:
    """The default checkpoint, labelled from its own metadata; None if it is missing or unreadable."""
    try:
        meta = read_checkpoint(path)["meta"]
    except CheckpointError:
        return None
    metrics = meta.get("test_metrics") or {}
    label = describe(path.stem, meta.get("latent_dim"), f"{meta.get('epoch')} epochs", metrics.get("neg_elbo"))
    return ModelChoice(path, label)


def run_choices(root: Path) -> list[ModelChoice]:
    """Finished or stopped runs that saved a checkpoint, newest first."""
    choices = []
    for run_dir, status in list_runs(root):
        if status.get("state") not in ("finished", "stopped") or not (run_dir / CHECKPOINT).is_file():
            continue
        latent = (status.get("model_config") or {}).get("latent_dim")
        epochs = f"{status.get('epoch')}/{status.get('epochs')} epochs"
        label = describe(f"run {run_dir.name}", latent, epochs, status.get("test_loss"), status["state"])
        choices.append(ModelChoice(run_dir / CHECKPOINT, label))
    return choices


"""Where the models are: the shipped checkpoints, the one opened by default, and the folder of training runs.
Read by the dashboard's menu (app_pages.catalog), the benches and the tests alike."""
from __future__ import annotations

import os
from pathlib import Path

from .files import PROJECT_ROOT

RUNS_ENV, CHECKPOINT_ENV = "VAE_RUNS_DIR", "VAE_CHECKPOINT"
SHIPPED = ("mnist-2d.pt", "fashion-mnist-2d.pt", "mnist-16d.pt")   # pretrained models in checkpoints/, the default first


def runs_root() -> Path:
    """Where training runs live: $VAE_RUNS_DIR, else `runs/` in the project folder (whatever the
    working folder the app was started from)."""
    return Path(os.environ.get(RUNS_ENV, PROJECT_ROOT / "runs"))


def default_checkpoint() -> Path:
    """The model the app opens with: $VAE_CHECKPOINT, else the shipped `checkpoints/mnist-2d.pt`."""
    return Path(os.environ.get(CHECKPOINT_ENV, PROJECT_ROOT / "checkpoints" / SHIPPED[0]))


def shipped_checkpoints() -> list[Path]:
    """The pretrained models offered before the runs: checkpoints/mnist-2d.pt, then the others that are
    present; $VAE_CHECKPOINT, when set, replaces them all (a deployment that serves one model)."""
    if os.environ.get(CHECKPOINT_ENV):
        return [default_checkpoint()]
    return [default_checkpoint()] + [PROJECT_ROOT / "checkpoints" / name for name in SHIPPED[1:]
                                     if (PROJECT_ROOT / "checkpoints" / name).is_file()]


def is_shipped(path: Path) -> bool:
    return Path(path) in shipped_checkpoints()

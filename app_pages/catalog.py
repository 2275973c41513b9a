"""Which models the dashboard can open: the shipped checkpoints and every finished or stopped run, as menu
choices. Where they are (the shipped files, the runs folder) is vae.locations', imported here for the pages."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app_pages.i18n import _, ngettext
from vae.checkpoint import CheckpointError, read_checkpoint
from vae.datasets import DATASETS, MNIST
from vae.locations import (CHECKPOINT_ENV, RUNS_ENV, SHIPPED, default_checkpoint, is_shipped,  # noqa: F401
                           runs_root, shipped_checkpoints)
from vae.lifecycle import list_runs
from vae.runfiles import CHECKPOINT, read_name, run_divergence


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    name: str           # what the menu shows: the shipped file's stem, a run's given name or folder
    details: str        # the second line: dataset · latent size · epochs · state · test loss

    @property
    def label(self) -> str:
        return f"{self.name} · {self.details}"


def describe(dataset, latent_dim, epochs: str, test_loss, state: str = "") -> str:
    loss = (_("test −ELBO {loss}").format(loss=f"{test_loss:.1f}") if isinstance(test_loss, (int, float))
            else _("no test loss yet"))
    name = dataset if isinstance(dataset, str) else MNIST.name      # none recorded (older runs), or not a name
    dataset = DATASETS[name].title if name in DATASETS else name
    return " · ".join(part for part in (dataset, f"z={latent_dim}", epochs, state, loss) if part)


def epochs_text(epochs, of=None) -> str:
    """'60 epochs', or '3/5 epochs' with `of`, the run's length (the plural follows the last number; a
    value that is not a count, read from an older file, takes the plural)."""
    count = of if of is not None else epochs
    n = count if isinstance(count, int) else 2
    if of is None:
        return ngettext("{epochs} epoch", "{epochs} epochs", n).format(epochs=epochs)
    return ngettext("{epoch}/{epochs} epoch", "{epoch}/{epochs} epochs", n).format(epoch=epochs, epochs=of)


def state_name(state) -> str:
    """A run's state (status.json's "state") in the session's language; one this version does not know as itself."""
    names = {"running": _("running"), "finished": _("finished"), "stopped": _("stopped"), "failed": _("failed"),
             "unreadable": _("unreadable"), "starting": _("starting"), "no status": _("no status")}
    return names.get(state, str(state))


def shipped_choice(path: Path) -> ModelChoice | None:
    """A shipped checkpoint, labelled from its own metadata; None if it is missing or unreadable."""
    try:
        meta = read_checkpoint(path)["meta"]
    except CheckpointError:
        return None
    metrics = meta.get("test_metrics") or {}
    details = describe(meta.get("dataset"), meta.get("latent_dim"), epochs_text(meta.get("epoch")), metrics.get("neg_elbo"))
    return ModelChoice(path, path.stem, details)


def run_label(run_dir: Path) -> str:
    """A run's name in menus and tables: the one it was given, else 'run <folder>'."""
    return read_name(run_dir) or _("run {folder}").format(folder=run_dir.name)


def run_choices(root: Path) -> list[ModelChoice]:
    """Finished or stopped runs that saved a checkpoint, newest first; never one whose recorded test figures
    show it diverged (a run from before the trainer failed those: its codes all sit on one spot)."""
    choices = []
    for run_dir, status in list_runs(root):
        if status.get("state") not in ("finished", "stopped") or not (run_dir / CHECKPOINT).is_file():
            continue
        if run_divergence(run_dir, status):
            continue
        latent = (status.get("model_config") or {}).get("latent_dim")
        dataset = (status.get("train_config") or {}).get("dataset")
        epochs = epochs_text(status.get("epoch"), of=status.get("epochs"))
        details = describe(dataset, latent, epochs, status.get("test_loss"), state_name(status["state"]))
        choices.append(ModelChoice(run_dir / CHECKPOINT, run_label(run_dir), details))
    return choices


def statusless_runs(root: Path) -> list[Path]:
    """Run folders that hold a checkpoint but no readable status.json (copied without it, or its writer
    killed before it): vae.lifecycle.list_runs leaves them out. Newest checkpoint first."""
    root = Path(root)
    if not root.is_dir():
        return []
    listed = {run_dir for run_dir, _ in list_runs(root)}
    found = [d for d in root.iterdir() if d.is_dir() and d not in listed and (d / CHECKPOINT).is_file()]
    return sorted(found, key=lambda d: (d / CHECKPOINT).stat().st_mtime, reverse=True)


def statusless_choice(run_dir: Path) -> ModelChoice | None:
    """A run without status, for the menu, labelled from its checkpoint's own metadata (state "no status");
    None when the checkpoint cannot be read."""
    path = Path(run_dir) / CHECKPOINT
    try:
        meta = read_checkpoint(path)["meta"]
    except (CheckpointError, OSError):
        return None
    metrics = meta.get("test_metrics") or {}
    details = describe(meta.get("dataset"), meta.get("latent_dim"), epochs_text(meta.get("epoch")), metrics.get("neg_elbo"),
                       _("no status"))
    return ModelChoice(path, run_label(path.parent), details)

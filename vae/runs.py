"""The run folder: what a training process writes and what the dashboard reads.

  metrics.jsonl   one JSON object per line, appended and flushed as training goes
  status.json     replaced atomically: state, progress, pid, error
  checkpoint.pt   written atomically at each epoch end (and on stop)
  train.log       the training process's stdout and stderr (when started by `start_run`)
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from .files import atomic_path

STATES = ("running", "finished", "stopped", "failed")
METRICS, STATUS, CHECKPOINT, LOG = "metrics.jsonl", "status.json", "checkpoint.pt", "train.log"


def write_json_atomic(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


class RunWriter:
    """Appends metrics rows and replaces the status file of one run folder."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / METRICS, "a", buffering=1)
        self.status: dict = read_status(self.run_dir) or {}

    def metrics(self, row: dict) -> None:
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()

    def update_status(self, **fields_) -> None:
        self.status.update(fields_, updated=time.time())
        write_json_atomic(self.run_dir / STATUS, self.status)

    def close(self) -> None:
        self._metrics.close()


def read_status(run_dir) -> dict | None:
    """The run's status.json, or None if there is none (yet). A "running" run whose process
    is gone (killed without a chance to write) reads as failed."""
    try:
        status = json.loads((Path(run_dir) / STATUS).read_text())
    except (OSError, ValueError):
        return None
    if status.get("state") == "running" and not pid_alive(status.get("pid")):
        status.update(state="failed", error=status.get("error") or "the training process ended without a word")
    return status


def read_metrics(run_dir) -> list[dict]:
    """All complete rows of metrics.jsonl; a half-written last line is skipped."""
    rows = []
    try:
        with open(Path(run_dir) / METRICS) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return rows


def pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped by its parent) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def list_runs(runs_root) -> list[tuple[Path, dict]]:
    """(run folder, status) for every run under runs_root, newest first."""
    root = Path(runs_root)
    if not root.is_dir():
        return []
    runs = [(d, s) for d in root.iterdir() if d.is_dir() and (s := read_status(d)) is not None]
    return sorted(runs, key=lambda r: r[1].get("started", 0), reverse=True)


def active_run(runs_root) -> Path | None:
    """The run under runs_root that is still training, if any."""
    return next((d for d, s in list_runs(runs_root) if s.get("state") == "running"), None)


def run_name(model_cfg, train_cfg) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    subset = f"-n{train_cfg.limit}" if train_cfg.limit else ""
    return f"{stamp}-{model_cfg.arch}-z{model_cfg.latent_dim}-e{train_cfg.epochs}-b{train_cfg.batch_size}{subset}"


def cli_args(model_cfg, train_cfg) -> list[str]:
    """The `python -m vae train` flags that rebuild these two configs."""
    args = []
    for cfg in (model_cfg, train_cfg):
        for f in fields(cfg):
            args += [f"--{f.name.replace('_', '-')}", str(getattr(cfg, f.name))]
    return args


def start_run(runs_root, model_cfg, train_cfg, *, cwd=None) -> Path:
    """Start `python -m vae train` as its own process (own session, so it outlives the caller's
    script reruns) in a new folder under runs_root; refuse while another run is training."""
    busy = active_run(runs_root)
    if busy is not None:
        raise RuntimeError(f"A training run is already going: {busy.name}. Stop it or wait for it to finish.")
    run_dir = Path(runs_root) / run_name(model_cfg, train_cfg)
    run_dir.mkdir(parents=True, exist_ok=False)
    cmd = [sys.executable, "-m", "vae", "train", "--run-dir", str(run_dir), *cli_args(model_cfg, train_cfg)]
    with open(run_dir / LOG, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=True)
    # Write a first status at once, so the folder reads as running before the child has imported torch.
    write_json_atomic(run_dir / STATUS, {"state": "running", "pid": proc.pid, "epoch": 0, "step": 0,
                                         "started": time.time(), "updated": time.time(),
                                         "command": cmd[1:]})
    return run_dir


def stop_run(run_dir) -> bool:
    """Ask a running training process to stop (SIGTERM): it ends its step, saves and exits as "stopped"."""
    status = read_status(run_dir)
    if not status or status.get("state") != "running":
        return False
    os.kill(status["pid"], signal.SIGTERM)
    return True

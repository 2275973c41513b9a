"""The run folder's format: each file's schema, read and written here and nowhere else.

  metrics.jsonl   one JSON object per line, appended and flushed as training goes (RunWriter, read_metrics)
  status.json     replaced atomically: state, progress, pid, error (RunWriter, read_recorded_status)
  checkpoint.pt   written atomically at each epoch end and on stop (vae.checkpoint)
  train.log       the training process's stdout and stderr (when started by vae.lifecycle.start_run)
  run.lock        flock'ed by the training process for its whole life; holds its pid (vae.lifecycle)
  stop.requested  the pid that vae.lifecycle.stop_run signalled
  name.txt        the name a user gave the run (rename_run); the folder's name stays its identity

What the files say about a process that may have ended (is a "running" run still alive?) is
vae.lifecycle's to judge: read_recorded_status returns status.json as written.
"""
from __future__ import annotations

import errno
import json
import math
import os
import threading
import time
from pathlib import Path

from .files import atomic_path, named
from .messages import N_, message_of, say

STATES = ("running", "finished", "stopped", "failed")      # readers add "unreadable" for broken files
METRICS, STATUS, CHECKPOINT, LOG, LOCK = "metrics.jsonl", "status.json", "checkpoint.pt", "train.log", "run.lock"
STOP_MARK, NAME = "stop.requested", "name.txt"
HEARTBEAT_SECONDS = 5.0
MAX_NAME = 32                  # a longer name would be cut short in the sidebar's model menu
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)

NUMBER = (int, float)
# The fields of status.json and their types (None is allowed for any). One place that says what a
# status is: a file that breaks it reads as state "unreadable" with the reason, never as half a status.
# "step" is the global optimizer step (counted on across a resume) and "epoch" the whole epochs done,
# step // steps per epoch, in every state (as a checkpoint's "epoch" counts them); which epoch a step
# belongs to, the one a person reads as "epoch 2/3", is epoch_of_step's to say. "error_message" is the error
# as vae.messages records it (its template and values), for the dashboard to say in the user's language.
STATUS_FIELDS = {"state": str, "error": str, "pid": int, "interrupted": bool, "device": str, "command": list,
                 "started": NUMBER, "updated": NUMBER, "heartbeat": NUMBER, "epoch": int, "epochs": int,
                 "step": int, "total_steps": int, "checkpoint_epoch": int, "checkpoint_step": int,
                 "images_per_sec": NUMBER, "eta_seconds": NUMBER, "test_loss": NUMBER, "train_seconds": NUMBER,
                 "model_config": dict, "train_config": dict, "phase": str, "finishes_at": NUMBER,
                 "error_message": dict}
METRIC_NUMBERS = ("loss", "recon", "kl", "seconds")


def write_json_atomic(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


def _rewrite_in_place(path: Path, data: bytes) -> bool:
    """Overwrite `path` with `data` in the blocks it already has, when they are enough: on a full disk a
    new file cannot be written, but these blocks can. Padded with spaces (JSON ignores them) to the
    old length, so no reader sees the old tail after the new text. False when it does not fit."""
    try:
        with open(path, "r+b") as f:
            info = os.fstat(f.fileno())
            room = max(info.st_size, getattr(info, "st_blocks", 0) * 512)
            if len(data) > room:
                return False
            f.write(data.ljust(info.st_size, b" "))
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        return False
    return True


class RunWriter:
    """Appends metrics rows and replaces the status file of one run folder; a thread refreshes
    the status's heartbeat every HEARTBEAT_SECONDS until close(). An error names its file."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / METRICS, "a", buffering=1)
        self._metrics_failed = False
        status = read_recorded_status(self.run_dir)
        self.status: dict = status if status and status["state"] != "unreadable" else {}
        self._lock, self._closed = threading.Lock(), threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="run heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._closed.wait(HEARTBEAT_SECONDS):
            try:
                self.update_status()
            except OSError:        # the training thread meets the same error at its next write, and reports it
                pass

    def metrics(self, row: dict) -> None:
        try:
            self._metrics.write(json.dumps(row) + "\n")
            self._metrics.flush()
        except OSError as exc:
            self._metrics_failed = True
            if (told := named(exc, self.run_dir / METRICS)) is exc:
                raise
            raise told from exc

    def update_status(self, **fields_) -> None:
        """Replace status.json; when the disk is too full for the new file, rewrite it where it lies."""
        with self._lock:
            now = time.time()
            self.status.update(fields_, updated=now, heartbeat=now)
            try:
                write_json_atomic(self.run_dir / STATUS, self.status)
            except OSError as exc:
                data = json.dumps(self.status, separators=(",", ":")).encode()
                if exc.errno not in NO_SPACE or not _rewrite_in_place(self.run_dir / STATUS, data):
                    raise

    def close(self) -> None:
        self._closed.set()
        self._heartbeat.join()
        try:
            self._metrics.close()       # flushes what is buffered: the write that failed, again
        except OSError as exc:
            if self._metrics_failed:        # already reported by metrics()
                return
            if (told := named(exc, self.run_dir / METRICS)) is exc:
                raise
            raise told from exc


def status_problems(status) -> list[str]:
    """What makes `status` (parsed status.json) not a run status; empty when it is one."""
    if not isinstance(status, dict):
        return [f"it holds a JSON {type(status).__name__}, not an object"]
    problems = [f"{name} is {value!r}, not {kind.__name__ if isinstance(kind, type) else 'a number'}"
                for name, kind in STATUS_FIELDS.items()
                if (value := status.get(name)) is not None
                and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool))]
    if status.get("state") not in STATES:
        problems.append(f"state is {status.get('state')!r}, not one of {STATES}")
    return problems


def parse_status(run_dir):
    """status.json parsed, whatever it holds; OSError when it cannot be read, ValueError when it is not JSON.
    Undecodable bytes and nesting too deep for the parser (a file of 100,000 `[`) are "not JSON" too:
    json's RecursionError would otherwise escape every reader of the runs list, and so every page."""
    data = (Path(run_dir) / STATUS).read_bytes()
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError(say(N_("nested too deeply"))) from None


def read_recorded_status(run_dir) -> dict | None:
    """status.json as written, or None if there is none (yet). A file that is not a valid status reads
    as {"state": "unreadable", "error": why}. Whether a "running" run still runs is not checked here
    (vae.lifecycle.read_status does)."""
    try:
        status = parse_status(run_dir)
    except OSError:
        return None
    except ValueError as exc:
        return {"state": "unreadable", "error": say(N_("status.json is not JSON ({error})"), error=message_of(exc) or str(exc)),
                "started": 0.0}
    problems = status_problems(status)
    if problems:
        return {"state": "unreadable", "error": say(N_("status.json: {problems}"), problems="; ".join(problems)[:300]),
                "started": 0.0}
    return status


def epoch_of_step(status: dict, step: int | None = None) -> int | None:
    """The epoch, counted from 1, that `step` (by default the status's last step) belongs to: the epoch in
    progress while the run trains, the one it stopped in or finished with once it ended. Between a step
    that ends epoch 1 and the next one it is still 1; before the first step, 1. None while the status
    does not give the run's length (its total steps are written when training begins)."""
    step = status.get("step") if step is None else step
    total, epochs = status.get("total_steps"), status.get("epochs")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (step, total, epochs)) \
            or not 0 < epochs <= total:
        return None
    per_epoch = total // epochs                     # total_steps is epochs × steps per epoch
    return min(epochs, max(1, math.ceil(step / per_epoch)))


def read_pid(path: Path) -> int | None:
    """The positive pid a file holds (run.lock, stop.requested), or None."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def read_metrics(run_dir) -> list[dict]:
    """All complete, well-formed rows of metrics.jsonl: objects with a split, an integer step and
    numbers for loss, recon, kl and seconds where present. A half-written last line is skipped."""
    rows = []
    try:
        with open(Path(run_dir) / METRICS) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if _metrics_row_ok(row):
                    rows.append(row)
    except OSError:
        pass
    return rows


def _metrics_row_ok(row) -> bool:
    return (isinstance(row, dict) and isinstance(row.get("split"), str)
            and isinstance(row.get("step"), int) and not isinstance(row["step"], bool)
            and all(isinstance(row.get(k, 0), NUMBER) and not isinstance(row.get(k), bool) for k in METRIC_NUMBERS))


def truncate_metrics(run_dir, last_step: int) -> list[dict]:
    """Keep only the metrics rows up to `last_step` (a resume's checkpoint); returns the rows kept.
    The file is rewritten whole, which also drops a line half-written by a killed process."""
    kept = [row for row in read_metrics(run_dir) if row["step"] <= last_step]
    if (Path(run_dir) / METRICS).exists():
        with atomic_path(Path(run_dir) / METRICS) as tmp:
            tmp.write_text("".join(json.dumps(row) + "\n" for row in kept))
    return kept


def holds_a_run(run_dir) -> bool:
    """Whether a folder already has a run's outputs (metrics, a checkpoint or a final state)."""
    run_dir = Path(run_dir)
    if (run_dir / METRICS).exists() or (run_dir / CHECKPOINT).exists():
        return True
    try:
        status = parse_status(run_dir)
    except (OSError, ValueError):
        return False
    return not isinstance(status, dict) or status.get("state") != "running"      # "running": start_run's mark


def remove_orphan_parts(run_dir) -> list[Path]:
    """Delete the temporary files of atomic writes that a killed process left behind; call it only
    while holding the run's lock, when no write can be under way."""
    orphans = list(Path(run_dir).glob(".*.part"))
    for path in orphans:
        path.unlink(missing_ok=True)
    return orphans


def read_name(run_dir) -> str | None:
    """The name the user gave the run, or None (then it goes by its folder's name)."""
    try:
        name = (Path(run_dir) / NAME).read_text(errors="replace").strip()
    except OSError:
        return None
    return name.splitlines()[0][:MAX_NAME] if name else None


def rename_run(run_dir, name: str) -> str:
    """Give the run a display name (kept in name.txt; the folder, the run's identity in links, stays).
    An empty name goes back to the folder's. Safe while the run trains: its process never writes this file."""
    run_dir = Path(run_dir)
    if read_recorded_status(run_dir) is None:
        raise ValueError(say(N_("{run} is not a run folder"), run=run_dir.name))
    name = " ".join(str(name).split())           # one line, single spaces
    if len(name) > MAX_NAME:
        raise ValueError(say(N_("A run's name must be at most {most} characters, got {count}."), most=MAX_NAME,
                             count=len(name)))
    if not name:
        (run_dir / NAME).unlink(missing_ok=True)
        return run_dir.name
    with atomic_path(run_dir / NAME) as tmp:
        tmp.write_text(name + "\n")
    return name


# The divergence rule: what a run's recorded test figures say about it. A model that learned nothing (every
# pixel a coin flip, every code the prior) scores 784·ln 2 = 543.4 nats an image on any data, whatever the β.
# Untrained models score less: 206 (MNIST, mlp) to 498 nats (Fashion-MNIST, conv, sigmoid), their output bias
# set to the mean image; lr 0.05 on 4,096 images ends at 211. The runs of issue 19 ended at 116,901 (lr 0.3)
# and 131,725,171 (lr 1). Twice the coin flip's score, 1,086.9 nats, is far from both.
COIN_FLIP_NATS = 784 * math.log(2)
DIVERGED_NATS = 2 * COIN_FLIP_NATS


def divergence(recon, kl, kl_weight) -> str | None:
    """Why test figures (nats an image) show a diverged run, or None: the run's own objective, recon +
    kl_weight * KL (with β = 0 the KL may grow as it likes), more than twice that of a model that learned
    nothing, or not a number at all."""
    loss = recon + kl_weight * kl
    if math.isfinite(loss) and loss <= DIVERGED_NATS:
        return None
    params = {"loss": f"{loss:,.1f}", "nothing": f"{COIN_FLIP_NATS:.1f}"}
    if kl_weight == 1:
        return say(N_("diverged: its test -ELBO is {loss} nats an image, more than twice that of a model that learned "
                      "nothing ({nothing}: every pixel a coin flip)"), **params)
    return say(N_("diverged: its test loss (reconstruction + {beta} × KL) is {loss} nats an image, more than twice "
                  "that of a model that learned nothing ({nothing}: every pixel a coin flip)"),
               beta=f"{kl_weight:g}", **params)


def run_divergence(run_dir, status: dict) -> str | None:
    """divergence() of a finished or stopped run as recorded, for runs from before the trainer failed such
    runs itself: from status.json's test -ELBO when that settles it, else from the last test row of
    metrics.jsonl (with the run's β, past any warm-up). None when the run is sound or says nothing."""
    loss = status.get("test_loss")
    if not isinstance(loss, NUMBER) or isinstance(loss, bool):
        return None
    beta = (status.get("train_config") or {}).get("beta", 1.0)
    beta = float(beta) if isinstance(beta, NUMBER) and not isinstance(beta, bool) else 1.0
    if math.isfinite(loss) and loss * max(1.0, beta) <= DIVERGED_NATS:     # recon + β·KL <= max(1, β)(recon + KL)
        return None
    tests = [row for row in read_metrics(run_dir) if row["split"] == "test"]
    last = tests[-1] if tests else {"recon": loss, "kl": 0.0}
    return divergence(last.get("recon", last.get("loss", loss)), last.get("kl", 0.0), beta)

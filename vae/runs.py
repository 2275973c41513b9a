"""The run folder: what a training process writes and what the dashboard reads.

  metrics.jsonl   one JSON object per line, appended and flushed as training goes
  status.json     replaced atomically: state, progress, pid, error
  checkpoint.pt   written atomically at each epoch end (and on stop)
  train.log       the training process's stdout and stderr (when started by `start_run`)
  run.lock        flock'ed by the training process for its whole life; holds its pid
  stop.requested  the pid that `stop_run` signalled, so a process that dies of the signal before it
                  could handle it (Stop pressed while it was still starting) reads as stopped, not failed
  name.txt        the name a user gave the run (`rename_run`); the folder's name stays its identity

A run is alive while some process holds its lock: the kernel drops the lock when the process
ends, however it ends (kill -9, out of memory), so a dead run cannot look alive even when its pid
has been reused, and `stop_run` signals only the process that holds the lock. status.json also
carries a heartbeat, refreshed every few seconds, for readers that cannot take locks.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from .files import PROJECT_ROOT, atomic_path

try:
    import fcntl
except ImportError:            # Windows: no flock; liveness falls back to the pid alone
    fcntl = None

STATES = ("running", "finished", "stopped", "failed")      # read_status adds "unreadable" for broken files
METRICS, STATUS, CHECKPOINT, LOG, LOCK = "metrics.jsonl", "status.json", "checkpoint.pt", "train.log", "run.lock"
STOP_MARK, NAME = "stop.requested", "name.txt"
PHASES = ("starting", "loading data", "training")    # status.json's `phase` while the state is "running"
START_LOCK = ".start.lock"             # in the runs root: one start_run at a time, across processes
LOCK_FD_ENV = "VAE_RUN_LOCK_FD"        # start_run hands its child the already locked run.lock as this fd
HEARTBEAT_SECONDS = 5.0


def write_json_atomic(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1))


class RunWriter:
    """Appends metrics rows and replaces the status file of one run folder; a thread refreshes
    the status's heartbeat every HEARTBEAT_SECONDS until close()."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / METRICS, "a", buffering=1)
        status = read_status(self.run_dir)
        self.status: dict = status if status and status["state"] != "unreadable" else {}
        self._lock, self._closed = threading.Lock(), threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="run heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._closed.wait(HEARTBEAT_SECONDS):
            self.update_status()

    def metrics(self, row: dict) -> None:
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()

    def update_status(self, **fields_) -> None:
        with self._lock:
            now = time.time()
            self.status.update(fields_, updated=now, heartbeat=now)
            write_json_atomic(self.run_dir / STATUS, self.status)

    def close(self) -> None:
        self._closed.set()
        self._heartbeat.join()
        self._metrics.close()


class RemainingTime:
    """Seconds left in a run, from the times its steps ended.

    Steps are steady, but a few intervals are not steps: the first epoch's replay snapshots and each epoch's
    end (a pass over the test set, a checkpoint). The estimate is a typical step (the median of the last
    WINDOW intervals, which those outliers do not move) times the steps left, plus each epoch end still to
    come at what the ones so far took; before the first epoch end, at what the slow intervals took (they were
    passes over the test set too). A mean over the last interval alone would swing with every outlier."""
    WINDOW = 200

    def __init__(self, steps_per_epoch: int, total_steps: int):
        self.steps_per_epoch, self.total_steps = max(1, steps_per_epoch), total_steps
        self.per_step: deque[float] = deque(maxlen=self.WINDOW)
        self.epoch_ends: list[float] = []         # seconds an epoch end added to its interval
        self.slow: list[float] = []               # seconds other outliers (snapshots) added
        self.last: tuple[int, float] | None = None

    def step_ended(self, step: int, now: float) -> None:
        if self.last is not None and step > self.last[0]:
            done, before = step - self.last[0], self.last[0]
            seconds = (now - self.last[1]) / done
            typical = self._typical()
            if before > 0 and before % self.steps_per_epoch == 0 and done == 1:
                if typical is not None:
                    self.epoch_ends.append(max(0.0, now - self.last[1] - typical))
            else:
                if typical is not None and seconds > 3 * typical:
                    self.slow.append((seconds - typical) * done)
                self.per_step.append(seconds)
        self.last = (step, now)

    def _typical(self) -> float | None:
        if not self.per_step:
            return None
        ordered = sorted(self.per_step)
        return ordered[len(ordered) // 2]

    def seconds_left(self) -> float | None:
        """None until two steps have ended."""
        typical = self._typical()
        if typical is None or self.last is None:
            return None
        step = self.last[0]
        ends_left = self.total_steps // self.steps_per_epoch - (step - 1) // self.steps_per_epoch
        extra = self.epoch_ends or self.slow
        end = sum(extra) / len(extra) if extra else 0.0
        return (self.total_steps - step) * typical + max(0, ends_left) * end


NUMBER = (int, float)
# The fields of status.json and their types (None is allowed for any). One place that says what a
# status is: a file that breaks it reads as state "unreadable" with the reason, never as half a status.
STATUS_FIELDS = {"state": str, "error": str, "pid": int, "interrupted": bool, "device": str, "command": list,
                 "started": NUMBER, "updated": NUMBER, "heartbeat": NUMBER, "epoch": int, "epochs": int,
                 "step": int, "total_steps": int, "checkpoint_epoch": int, "checkpoint_step": int,
                 "images_per_sec": NUMBER, "eta_seconds": NUMBER, "test_loss": NUMBER, "train_seconds": NUMBER,
                 "model_config": dict, "train_config": dict, "phase": str, "finishes_at": NUMBER}


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


def _parse_status(run_dir):
    """status.json parsed, whatever it holds; OSError when it cannot be read, ValueError when it is not JSON.
    Undecodable bytes and nesting too deep for the parser (a file of 100,000 `[`) are "not JSON" too:
    json's RecursionError would otherwise escape every reader of the runs list, and so every page."""
    data = (Path(run_dir) / STATUS).read_bytes()
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


# The divergence rule. A model that learned nothing (every pixel a coin flip, every code the prior) scores
# 784·ln 2 = 543.4 nats an image on any data, whatever the β. Untrained models score less: 206 (MNIST, mlp) to
# 498 nats (Fashion-MNIST, conv, sigmoid), their output bias set to the mean image; lr 0.05 on 4,096 images
# ends at 211. The runs of issue 19 ended at 116,901 (lr 0.3) and 131,725,171 (lr 1). Twice the coin flip's
# score, 1,086.9 nats, is far from both.
COIN_FLIP_NATS = 784 * math.log(2)
DIVERGED_NATS = 2 * COIN_FLIP_NATS


def divergence(recon, kl, kl_weight) -> str | None:
    """Why test figures (nats an image) show a diverged run, or None: the run's own objective, recon +
    kl_weight * KL (with β = 0 the KL may grow as it likes), more than twice that of a model that learned
    nothing, or not a number at all."""
    loss = recon + kl_weight * kl
    if math.isfinite(loss) and loss <= DIVERGED_NATS:
        return None
    what = "-ELBO" if kl_weight == 1 else f"loss (reconstruction + {kl_weight:g} × KL)"
    return (f"diverged: its test {what} is {loss:,.1f} nats an image, more than twice that of a model "
            f"that learned nothing ({COIN_FLIP_NATS:.1f}: every pixel a coin flip)")


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


def read_status(run_dir) -> dict | None:
    """The run's status.json, or None if there is none (yet).

    A file that is not a valid status reads as {"state": "unreadable", "error": why}. A "running"
    run that no process holds any more (killed without a chance to write) reads as "stopped" with
    `interrupted` set when it has a checkpoint to resume from, else as "failed"."""
    try:
        status = _parse_status(run_dir)
    except OSError:
        return None
    except ValueError as exc:
        return {"state": "unreadable", "error": f"status.json is not JSON ({exc})", "started": 0.0}
    problems = status_problems(status)
    if problems:
        return {"state": "unreadable", "error": "status.json: " + "; ".join(problems)[:300], "started": 0.0}
    if status.get("state") == "running":
        holder = lock_holder(run_dir)
        if holder is None:
            status.update(_interrupted(Path(run_dir), status))
        elif status.get("pid") is None:
            status["pid"] = holder or None
    return status


def _interrupted(run_dir: Path, status: dict) -> dict:
    """How a run reads whose process ended without writing its last status: stopped if Stop signalled
    that very process, else killed (or out of memory); resumable when it left a checkpoint."""
    signalled = _read_pid(run_dir / STOP_MARK)
    stopped = signalled is not None and signalled == _read_pid(run_dir / LOCK)     # the lock keeps its last pid
    has_checkpoint = (run_dir / CHECKPOINT).is_file()
    if not has_checkpoint:
        if stopped:
            return {"state": "stopped", "error": None}
        return {"state": "failed", "error": status.get("error") or
                "the training process ended before its first checkpoint (killed, or out of memory?)"}
    epoch, step = status.get("checkpoint_epoch", status.get("epoch")), status.get("checkpoint_step", status.get("step"))
    if stopped:
        return {"state": "stopped", "epoch": epoch, "step": step, "eta_seconds": None}
    return {"state": "stopped", "interrupted": True, "epoch": epoch, "step": step, "eta_seconds": None,
            "error": f"the training process ended without a word (killed, or out of memory?); its last "
                     f"checkpoint (epoch {epoch}, step {step}) is kept and the run can be resumed from it"}


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


METRIC_NUMBERS = ("loss", "recon", "kl", "seconds")


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
        status = _parse_status(run_dir)
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


def _try_flock(fd: int, kind) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock_holder(run_dir) -> int | None:
    """The pid of the process that holds the run's lock, 0 if it is held but the pid is not yet
    written, None if no process holds it (no run, or its process has ended)."""
    path = Path(run_dir) / LOCK
    if fcntl is None:                           # no flock (Windows): the pid in status.json is all there is
        try:
            pid = _parse_status(run_dir).get("pid")
        except (OSError, ValueError, AttributeError):
            return None
        return pid if pid_alive(pid) else None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_flock(fd, fcntl.LOCK_SH):       # nobody holds it: let go at once
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else 0
    finally:
        os.close(fd)


def _write_holder(fd: int, pid: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, str(pid).encode())


def _lock_file(run_dir) -> int:
    """An open descriptor of the run's lock file, locked exclusively; RuntimeError if another process
    holds it. A reader that probes the lock holds it for microseconds, so a few retries ride that out."""
    fd = os.open(Path(run_dir) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(50):
        if fcntl is None or _try_flock(fd, fcntl.LOCK_EX):
            os.ftruncate(fd, 0)          # at once: the pid of an earlier holder must never read as ours
            return fd
        time.sleep(0.01)
    holder = lock_holder(run_dir)
    os.close(fd)
    raise RuntimeError(f"{run_dir} is in use by another training process (pid {holder or 'unknown'})")


@contextmanager
def run_lock(run_dir):
    """Hold the run's lock for the block: the training process's claim to its run folder.

    Under `start_run` the lock is already held, taken by the launcher and inherited as the
    descriptor named by $VAE_RUN_LOCK_FD, so that no other start can slip in between; it is adopted
    when it is that folder's lock file."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = _inherited_lock(run_dir)
    if fd is None:
        fd = _lock_file(run_dir)
    try:
        _write_holder(fd, os.getpid())
        yield
    finally:
        os.close(fd)                    # releases the lock (the kernel does the same at any exit)


def _inherited_lock(run_dir: Path) -> int | None:
    fd = os.environ.pop(LOCK_FD_ENV, None)
    if fd is None or not fd.isdigit():
        return None
    try:
        same = os.path.samestat(os.fstat(int(fd)), os.stat(run_dir / LOCK))
    except OSError:
        return None
    return int(fd) if same else None


def list_runs(runs_root) -> list[tuple[Path, dict]]:
    """(run folder, status) for every run under runs_root, newest first."""
    root = Path(runs_root)
    if not root.is_dir():
        return []
    runs = [(d, s) for d in root.iterdir() if d.is_dir() and (s := read_status(d)) is not None]
    return sorted(runs, key=lambda r: r[1].get("started") or 0, reverse=True)


def active_run(runs_root) -> Path | None:
    """The run under runs_root that is still training, if any."""
    return next((d for d, s in list_runs(runs_root) if s.get("state") == "running"), None)


def run_name(model_cfg, train_cfg) -> str:
    """A new run's folder name: when it started and its model, short enough for the model menu (the rest of
    its configuration is in its status and shown beside it)."""
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{model_cfg.arch}-z{model_cfg.latent_dim}"


def _new_folder(runs_root: Path, name: str) -> Path:
    """runs_root/name, or name-2, name-3… when a run of that name exists (two starts in one second)."""
    for n in range(1, 1000):
        run_dir = runs_root / (name if n == 1 else f"{name}-{n}")
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:
            continue
        return run_dir
    raise RuntimeError(f"no free folder name for {name} under {runs_root}")


def cli_args(model_cfg, train_cfg) -> list[str]:
    """The `python -m vae train` flags that rebuild these two configs."""
    args = []
    for cfg in (model_cfg, train_cfg):
        for f in fields(cfg):
            args += [f"--{f.name.replace('_', '-')}", str(getattr(cfg, f.name))]
    return args


@contextmanager
def _one_start_at_a_time(runs_root: Path):
    """Serialise start_run across processes (two servers, two CLIs), not only across threads."""
    runs_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(runs_root / START_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start_run(runs_root, model_cfg, train_cfg, *, cwd=None) -> Path:
    """Start `python -m vae train` as its own process (own session, so it outlives the caller's
    script reruns) in a new folder under runs_root; refuse while another run is training."""
    runs_root = Path(runs_root)
    with _one_start_at_a_time(runs_root):
        _refuse_if_busy(runs_root)
        run_dir = _new_folder(runs_root, run_name(model_cfg, train_cfg))
        _launch(run_dir, ["--run-dir", str(run_dir), *cli_args(model_cfg, train_cfg)], {}, cwd)
    return run_dir


def resume_run(run_dir, *, cwd=None) -> Path:
    """Continue a stopped (or interrupted) run from its last checkpoint, as its own process."""
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    if not status or status.get("state") != "stopped" or not (run_dir / CHECKPOINT).is_file():
        raise RuntimeError(f"{run_dir.name} is not a stopped run with a checkpoint; there is nothing to resume")
    with _one_start_at_a_time(run_dir.parent):
        _refuse_if_busy(run_dir.parent)
        device = (status.get("train_config") or {}).get("device", "auto")
        _launch(run_dir, ["--run-dir", str(run_dir), "--resume", "--device", str(device)], status, cwd)
    return run_dir


def _refuse_if_busy(runs_root: Path) -> None:
    busy = active_run(runs_root)
    if busy is not None:
        raise RuntimeError(f"A training run is already going: {busy.name}. Stop it or wait for it to finish.")


def _launch(run_dir: Path, args: list[str], status: dict, cwd) -> None:
    """Lock the run, mark it running, then start the training process holding that same lock.

    The child inherits the locked descriptor, so the run is held from before its status says
    "running" until the child exits. A thread waits for the child so it never lingers as a zombie."""
    fd = _lock_file(run_dir)
    try:
        cmd = [sys.executable, "-m", "vae", "train", *args]
        now = time.time()
        write_json_atomic(run_dir / STATUS, {**status, "state": "running", "pid": None, "error": None,
                                             "interrupted": False, "started": status.get("started", now),
                                             "updated": now, "heartbeat": now, "command": cmd[1:],
                                             "phase": "starting", "eta_seconds": None, "finishes_at": None})
        # `python -m vae` must find this package whatever the working folder (a server started elsewhere)
        path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
        with open(run_dir / LOG, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=cwd, start_new_session=True, pass_fds=(fd,) if fcntl else (),
                                    env={**os.environ, "PYTHONPATH": path, LOCK_FD_ENV: str(fd)})
        _write_holder(fd, proc.pid)
        threading.Thread(target=proc.wait, name=f"reap {run_dir.name}", daemon=True).start()
    finally:
        os.close(fd)


def stop_run(run_dir) -> bool:
    """Ask the run's training process to stop (SIGTERM): it ends its step, saves and exits as "stopped".

    Only the process proven to hold the run's lock is signalled; False when there is none."""
    pid = lock_holder(run_dir)
    if not pid:
        return False
    try:
        process = os.pidfd_open(pid)
    except (AttributeError, OSError):
        process = None
    try:
        if lock_holder(run_dir) != pid:          # the pid now refers to the lock's holder, no other
            return False
        (Path(run_dir) / STOP_MARK).write_text(str(pid))
        if process is None:
            os.kill(pid, signal.SIGTERM)
        else:
            signal.pidfd_send_signal(process, signal.SIGTERM)
    except ProcessLookupError:
        return False
    finally:
        if process is not None:
            os.close(process)
    return True


def read_name(run_dir) -> str | None:
    """The name the user gave the run, or None (then it goes by its folder's name)."""
    try:
        name = (Path(run_dir) / NAME).read_text(errors="replace").strip()
    except OSError:
        return None
    return name.splitlines()[0][:MAX_NAME] if name else None


MAX_NAME = 32                  # a longer name would be cut short in the sidebar's model menu


def rename_run(run_dir, name: str) -> str:
    """Give the run a display name (kept in name.txt; the folder, the run's identity in links, stays).
    An empty name goes back to the folder's. Safe while the run trains: its process never writes this file."""
    run_dir = Path(run_dir)
    if read_status(run_dir) is None:
        raise ValueError(f"{run_dir.name} is not a run folder")
    name = " ".join(str(name).split())           # one line, single spaces
    if len(name) > MAX_NAME:
        raise ValueError(f"A run's name must be at most {MAX_NAME} characters, got {len(name)}.")
    if not name:
        (run_dir / NAME).unlink(missing_ok=True)
        return run_dir.name
    with atomic_path(run_dir / NAME) as tmp:
        tmp.write_text(name + "\n")
    return name


def delete_run(run_dir, runs_root) -> None:
    """Remove a run's folder for good. Refused for anything that is not a run folder directly under
    runs_root (so never the shipped models in checkpoints/), and for a run whose process still holds its
    lock: the lock is taken for the removal, so a resume cannot start on a half-deleted folder."""
    run_dir, root = Path(run_dir), Path(runs_root).resolve()
    shipped = (PROJECT_ROOT / "checkpoints").resolve()
    if run_dir.resolve().is_relative_to(shipped) or root.is_relative_to(shipped):
        raise ValueError(f"{run_dir} holds a shipped model; it is never deleted")
    if run_dir.is_symlink() or run_dir.resolve().parent != root or not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a run folder under {root}; nothing was deleted")
    if read_status(run_dir) is None:
        raise ValueError(f"{run_dir.name} has no status.json: it is not a run folder; nothing was deleted")
    with _one_start_at_a_time(root):
        try:
            fd = _lock_file(run_dir)
        except RuntimeError:
            raise RuntimeError(f"{run_dir.name} is training: stop it before deleting it") from None
        try:
            shutil.rmtree(run_dir)
        finally:
            os.close(fd)

"""The life of a training process: start, stop, resume and delete a run, and the locks that tell
whether it still lives.

A run is alive while some process holds its lock (an exclusive flock on run.lock): the kernel drops
the lock when the process ends, however it ends (kill -9, out of memory), so a dead run cannot look
alive even when its pid has been reused. Which process holds it is asked of the kernel too: on Linux
/proc/PID/fdinfo lists, for each descriptor, the locks taken through it. The pid written in run.lock
only says where to look first; `stop_run` signals no process that the kernel does not show holding
the lock. (/proc/locks names the process that took a lock, which is the launcher for a lock handed
to its child, so it cannot say.) Where there is no /proc (macOS), the written pid is all there is.

One run trains at a time in a folder of runs: every run takes its own lock, then looks at its
siblings, and refuses if one of them is held. Of two runs that start at once, at least one sees the
other. The dashboard's starts are also serialised by a lock file in the runs folder.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from pathlib import Path

from .files import PROJECT_ROOT
from .messages import N_, say
from .runfiles import (CHECKPOINT, LOCK, LOG, STATUS, STOP_MARK, epoch_of_step, parse_status, read_pid,
                       read_recorded_status, write_json_atomic)

try:
    import fcntl
except ImportError:            # Windows: no flock; liveness falls back to the pid alone
    fcntl = None

START_LOCK = ".start.lock"             # in the runs root: one start_run at a time, across processes
TRAIN_NICENESS = 10                    # where SCHED_IDLE is missing: how much nicer than its launcher a run is
LOCK_FD_ENV = "VAE_RUN_LOCK_FD"        # start_run hands its child the already locked run.lock as this fd
PROC = Path("/proc")


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
        return (PROC / str(pid) / "stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def _try_flock(fd: int, kind) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_is_held(path: Path) -> bool | None:
    """Whether some process holds an exclusive flock on `path`; None when there is no such file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_flock(fd, fcntl.LOCK_SH):       # nobody holds it: let go at once
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


def _kernel_lists_locks() -> bool:
    return (PROC / "self" / "fdinfo").is_dir()


def holds_lock(pid: int, run_dir) -> bool:
    """Whether the kernel shows process `pid` holding the run's lock: one of its descriptors refers to
    run.lock and /proc/PID/fdinfo lists an exclusive flock taken through that descriptor."""
    try:
        target = os.stat(Path(run_dir) / LOCK)
        names = os.listdir(PROC / str(pid) / "fd")
    except (OSError, ValueError):
        return False
    for name in names:
        try:
            if not os.path.samestat(os.stat(PROC / str(pid) / "fd" / name), target):
                continue
            info = (PROC / str(pid) / "fdinfo" / name).read_text()
        except OSError:
            continue
        for line in info.splitlines():
            words = line.split()
            if words[:1] == ["lock:"] and "FLOCK" in words and "WRITE" in words and "->" not in words:
                return True
    return False


def _holders(run_dir) -> list[int]:
    """Every process the kernel shows holding the run's lock (two while a launcher hands it over)."""
    pids = [int(name) for name in os.listdir(PROC) if name.isdigit()]
    return [pid for pid in pids if holds_lock(pid, run_dir)]


def lock_holder(run_dir, *, search: bool = False) -> int | None:
    """The pid of the process that holds the run's lock, None if no process holds it (no run, or its
    process has ended), 0 if it is held but the holder is not known: the pid written in run.lock is
    taken only when the kernel shows that process holding the lock. With `search`, every process is
    looked at when that one is not it (slower: for stop_run, not for every page view)."""
    run_dir = Path(run_dir)
    if fcntl is None:                           # no flock (Windows): the pid in status.json is all there is
        try:
            pid = parse_status(run_dir).get("pid")
        except (OSError, ValueError, AttributeError):
            return None
        return pid if pid_alive(pid) else None
    if not _lock_is_held(run_dir / LOCK):
        return None
    named = read_pid(run_dir / LOCK) or 0
    if not _kernel_lists_locks():
        return named
    if named and holds_lock(named, run_dir):
        return named
    holders = _holders(run_dir) if search else []
    return holders[0] if len(holders) == 1 else 0


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
    raise RuntimeError(say(N_("{run_dir} is in use by another training process (pid {pid})"), run_dir=str(run_dir),
                           pid=holder or say(N_("unknown"))))


def live_siblings(run_dir) -> list[Path]:
    """The other folders beside `run_dir` (not links to it) whose run lock some process holds."""
    run_dir = Path(run_dir)
    try:
        own = os.stat(run_dir)
        folders = [d for d in sorted(run_dir.parent.iterdir()) if (d / LOCK).is_file()]
    except OSError:
        return []
    live = []
    for d in folders:
        try:
            if os.path.samestat(os.stat(d), own):
                continue
        except OSError:
            continue
        if (lock_holder(d) is not None) if fcntl is None else _lock_is_held(d / LOCK):
            live.append(d)
    return live


def _refuse_beside_a_live_run(run_dir: Path) -> None:
    """RuntimeError naming the run that trains beside `run_dir` (whose lock the caller holds), if one does."""
    busy = live_siblings(run_dir)
    if busy:
        pid = lock_holder(busy[0])
        params = {"run": busy[0].name, "folder": str(run_dir.parent)}
        raise RuntimeError(say(N_("A training run is already going: {run} (pid {pid}) in {folder}. One run trains at "
                                  "a time in a folder of runs: stop it or wait for it to finish, or train in another "
                                  "folder."), pid=pid, **params) if pid else
                           say(N_("A training run is already going: {run} in {folder}. One run trains at a time in a "
                                  "folder of runs: stop it or wait for it to finish, or train in another folder."),
                               **params))


@contextmanager
def run_lock(run_dir):
    """Hold the run's lock for the block: the training process's claim to its run folder. Refused
    (RuntimeError) while another run beside it trains.

    Under `start_run` the lock is already held, taken by the launcher and inherited as the
    descriptor named by $VAE_RUN_LOCK_FD, so that no other start can slip in between; it is adopted
    when it is that folder's lock file (the launcher looked at the siblings)."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = _inherited_lock(run_dir)
    if fd is None:
        fd = _lock_file(run_dir)
        try:
            _refuse_beside_a_live_run(run_dir)
        except RuntimeError:
            os.close(fd)
            if created:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
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


def read_status(run_dir) -> dict | None:
    """The run's status.json (vae.runfiles.read_recorded_status), with the kernel's word on whether it
    still runs: a "running" run that no process holds any more (killed without a chance to write)
    reads as "stopped" with `interrupted` set when it has a checkpoint to resume from, else as "failed"."""
    status = read_recorded_status(run_dir)
    if status is None or status.get("state") != "running":
        return status
    holder = lock_holder(run_dir)
    if holder is None:
        status.update(_interrupted(Path(run_dir), status))
    elif status.get("pid") is None:
        status["pid"] = holder or None
    return status


def _interrupted(run_dir: Path, status: dict) -> dict:
    """How a run reads whose process ended without writing its last status: stopped if Stop signalled
    that very process, else killed (or out of memory); resumable when it left a checkpoint."""
    signalled = read_pid(run_dir / STOP_MARK)
    stopped = signalled is not None and signalled == read_pid(run_dir / LOCK)     # the lock keeps its last pid
    has_checkpoint = (run_dir / CHECKPOINT).is_file()
    if not has_checkpoint:
        if stopped:
            return {"state": "stopped", "error": None}
        return {"state": "failed", "error": status.get("error") or
                say(N_("the training process ended before its first checkpoint (killed, or out of memory?)"))}
    epoch, step = status.get("checkpoint_epoch", status.get("epoch")), status.get("checkpoint_step", status.get("step"))
    if stopped:
        return {"state": "stopped", "epoch": epoch, "step": step, "eta_seconds": None}
    in_epoch = epoch_of_step(status, step) or epoch          # the epoch its step is in, as the Train page says it
    return {"state": "stopped", "interrupted": True, "epoch": epoch, "step": step, "eta_seconds": None,
            "error": say(N_("the training process ended without a word (killed, or out of memory?); its last "
                            "checkpoint (epoch {epoch}, step {step}) is kept and the run can be resumed from it"),
                         epoch=str(in_epoch), step=str(step))}


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


def run_name(model_cfg) -> str:
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
    raise RuntimeError(say(N_("no free folder name for {name} under {folder}"), name=name, folder=str(runs_root)))


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
    script reruns) in a new folder under runs_root; refuse while another run is training there."""
    runs_root = Path(runs_root)
    with _one_start_at_a_time(runs_root):
        _refuse_if_busy(runs_root)
        run_dir = _new_folder(runs_root, run_name(model_cfg))
        try:
            _launch(run_dir, ["--run-dir", str(run_dir), *cli_args(model_cfg, train_cfg)], {}, cwd)
        except RuntimeError:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
    return run_dir


def resume_run(run_dir, *, cwd=None) -> Path:
    """Continue a stopped (or interrupted) run from its last checkpoint, as its own process."""
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    if not status or status.get("state") != "stopped" or not (run_dir / CHECKPOINT).is_file():
        raise RuntimeError(say(N_("{run} is not a stopped run with a checkpoint; there is nothing to resume"),
                               run=run_dir.name))
    with _one_start_at_a_time(run_dir.parent):
        _refuse_if_busy(run_dir.parent)
        device = (status.get("train_config") or {}).get("device", "auto")
        _launch(run_dir, ["--run-dir", str(run_dir), "--resume", "--device", str(device)], status, cwd)
    return run_dir


def _refuse_if_busy(runs_root: Path) -> None:
    busy = active_run(runs_root)
    if busy is not None:
        raise RuntimeError(say(N_("A training run is already going: {run}. Stop it or wait for it to finish."),
                               run=busy.name))


def _launch(run_dir: Path, args: list[str], status: dict, cwd) -> None:
    """Lock the run, look at its siblings, mark it running, then start the training process holding
    that same lock.

    The child inherits the locked descriptor, so the run is held from before its status says
    "running" until the child exits. It runs at a lower CPU priority than the dashboard (_yield_the_cpu).
    A thread waits for the child so it never lingers as a zombie."""
    fd = _lock_file(run_dir)
    try:
        _refuse_beside_a_live_run(run_dir)       # a run the CLI started: it holds its lock before its status says so
        cmd = [sys.executable, "-m", "vae", "train", *args]
        now = time.time()
        write_json_atomic(run_dir / STATUS, {**status, "state": "running", "pid": None, "error": None,
                                             "error_message": None, "interrupted": False, "started": status.get("started", now),
                                             "updated": now, "heartbeat": now, "command": cmd[1:],
                                             "phase": "starting", "eta_seconds": None, "finishes_at": None})
        # `python -m vae` finds the package from any working folder: the project is installed (editable)
        # in the environment whose python this is (make; test_a_run_starts_from_any_working_folder)
        with open(run_dir / LOG, "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=cwd, start_new_session=True, pass_fds=(fd,) if fcntl else (),
                                    env={**os.environ, LOCK_FD_ENV: str(fd)})
        _write_holder(fd, proc.pid)
        _yield_the_cpu(proc.pid)
        threading.Thread(target=proc.wait, name=f"reap {run_dir.name}", daemon=True).start()
    finally:
        os.close(fd)


def _yield_the_cpu(pid: int) -> None:
    """Make the training process `pid` background work: Linux's SCHED_IDLE where it has it, so the run
    takes only the CPU time nothing else wants. Alone on the machine it trains as fast; where the
    dashboard's pages, or the browsers of a class on the same machine, want a core, the kernel hands it
    to them at once (a waking task preempts an idle-class one, and a core running only idle-class work
    counts as free when a woken task looks for one): with ten browsers pinning beside a run, their pins
    came back sooner than at nice 10 and the run trained as fast (README, the classroom figures).
    Elsewhere (macOS, the BSDs) the run gets a nice value TRAIN_NICENESS above this process's; where
    neither can be set (Windows), nothing changes. Called as soon as it is started, before it makes its threads (torch's), which take the
    policy and priority of the thread that makes them."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAIN_NICENESS))
    except (AttributeError, OSError):
        pass


def stop_run(run_dir) -> bool:
    """Ask the run's training process to stop (SIGTERM): it ends its step, saves and exits as "stopped".

    Only a process that the kernel shows holding the run's lock is signalled, whatever run.lock says,
    and never this one; False when there is none."""
    pid = lock_holder(run_dir, search=True)
    if not pid or pid == os.getpid():
        return False
    try:
        process = os.pidfd_open(pid)
    except (AttributeError, OSError):
        process = None
    try:
        # the pidfd was opened on the pid that held the lock; it still does, so the pidfd is that holder
        still = holds_lock(pid, run_dir) if _kernel_lists_locks() else lock_holder(run_dir) == pid
        if not still:
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


def delete_run(run_dir, runs_root) -> None:
    """Remove a run's folder for good. Refused for anything that is not a run folder directly under
    runs_root (so never the shipped models in checkpoints/), and for a run whose process still holds its
    lock: the lock is taken for the removal, so a resume cannot start on a half-deleted folder."""
    run_dir, root = Path(run_dir), Path(runs_root).resolve()
    shipped = (PROJECT_ROOT / "checkpoints").resolve()
    if run_dir.resolve().is_relative_to(shipped) or root.is_relative_to(shipped):
        raise ValueError(say(N_("{run_dir} holds a shipped model; it is never deleted"), run_dir=str(run_dir)))
    if run_dir.is_symlink() or run_dir.resolve().parent != root or not run_dir.is_dir():
        raise ValueError(say(N_("{run_dir} is not a run folder under {root}; nothing was deleted"),
                             run_dir=str(run_dir), root=str(root)))
    if read_recorded_status(run_dir) is None:
        raise ValueError(say(N_("{run} has no status.json: it is not a run folder; nothing was deleted"),
                             run=run_dir.name))
    with _one_start_at_a_time(root):
        try:
            fd = _lock_file(run_dir)
        except RuntimeError:
            raise RuntimeError(say(N_("{run} is training: stop it before deleting it"), run=run_dir.name)) from None
        try:
            shutil.rmtree(run_dir)
        finally:
            os.close(fd)

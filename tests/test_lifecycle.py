"""vae.lifecycle, line by line and fast: what a run that ended without a word reads as, the words of every
refusal, and what the launcher hands its training process (its lock, its session, its log, its folder).

The launcher's child here is a stand-in for `python -m vae train` (STAND_IN below): a small Python program
that reports what it was given and waits, so each test takes a fraction of a second. tests/test_runs.py
starts the real training process end to end; this file pins down each promise of the module on its own.
"""
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

import pytest

from vae import ModelConfig, TrainConfig, lifecycle
from vae.cli import _configs, build_parser
from vae.lifecycle import (active_run, cli_args, delete_run, holds_lock, list_runs, live_siblings, lock_holder,
                           pid_alive, read_status, resume_run, start_run, stop_run)
from vae.runfiles import CHECKPOINT, LOCK, LOG, STATUS, STOP_MARK, read_pid, read_recorded_status, write_json_atomic

from helpers import wait_until
from test_runs import HOLD_LOCK, python, reaped

# Holds the run's lock as a reader (a shared flock), which is no claim to the run.
HOLD_SHARED = """
import fcntl, os, sys
fd = os.open(os.path.join(sys.argv[1], "run.lock"), os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_SH)
print("holding", flush=True)
sys.stdin.readline()
"""

# What _launch starts, in place of `python -m vae train`: it writes what it was handed to $STAND_IN_REPORT,
# one line to its stdout and one to its stderr, then waits for $STAND_IN_RELEASE to exist (or a SIGTERM,
# or a minute).
STAND_IN = """
import json, os, sys, time
fd = os.environ.get("VAE_RUN_LOCK_FD")
run_dir = sys.argv[sys.argv.index("--run-dir") + 1]
try:
    handed = os.path.samestat(os.fstat(int(fd)), os.stat(os.path.join(run_dir, "run.lock")))
except (TypeError, ValueError, OSError):
    handed = False
report = {"argv": sys.argv[1:], "pid": os.getpid(), "lock_fd": fd, "handed_the_lock": handed,
          "own_session": os.getsid(0) == os.getpid(), "cwd": os.getcwd(),
          "stdin_is_null": os.path.samestat(os.fstat(0), os.stat(os.devnull))}
print("to stdout", flush=True)
print("to stderr", file=sys.stderr, flush=True)
with open(os.environ["STAND_IN_REPORT"] + ".tmp", "w") as f:
    json.dump(report, f)
os.replace(os.environ["STAND_IN_REPORT"] + ".tmp", os.environ["STAND_IN_REPORT"])
deadline = time.time() + 60                  # a test that failed before releasing it leaves nothing behind
while not os.path.exists(os.environ["STAND_IN_RELEASE"]) and time.time() < deadline:
    time.sleep(0.01)
"""


def held(proc) -> None:
    assert proc.stdout.readline() == "holding\n"


def release(proc) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(30) == 0


def niceness(pid: int) -> int:
    """The process's nice value, as the kernel shows it (/proc/PID/stat, field 19)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[16])


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """sys.executable replaced by a script that runs STAND_IN with the real Python; yields a function that
    waits for the child's report and returns it (with the release file's path to end it)."""
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    script = tmp_path / "python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path / "stand_in.py"}" "$@"\n')
    script.chmod(0o755)
    report, release_file = tmp_path / "report.json", tmp_path / "release"
    monkeypatch.setenv("STAND_IN_REPORT", str(report))
    monkeypatch.setenv("STAND_IN_RELEASE", str(release_file))
    monkeypatch.setattr(lifecycle.sys, "executable", str(script))
    children = []

    def reported() -> dict:
        assert wait_until(report.is_file, timeout=30)
        answer = json.loads(report.read_text())
        children.append(answer["pid"])
        return answer

    reported.release = release_file
    yield reported
    release_file.touch()
    for pid in children:
        assert wait_until(lambda: reaped(pid), timeout=30)


def status_of(run_dir, **fields) -> Path:
    """A run folder whose status.json holds `fields`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / STATUS, fields)
    return run_dir


# A run whose process ended without writing its last status ------------------------------------------

ABANDONED = {"state": "running", "pid": 4321, "error": "an old error", "epoch": 2, "epochs": 3, "step": 9,
             "total_steps": 15, "eta_seconds": 12.5}


def test_a_run_killed_before_its_first_checkpoint_reads_as_failed_saying_so(tmp_path):
    run = status_of(tmp_path / "run", **{**ABANDONED, "error": None})
    (run / LOCK).write_text("4321")
    status = read_status(run)
    assert status["state"] == "failed"
    assert status["error"] == ("the training process ended before its first checkpoint (killed, or out of "
                               "memory?)")
    run = status_of(tmp_path / "run", **ABANDONED)                 # a reason it wrote itself is kept
    assert read_status(run)["error"] == "an old error"


def test_a_run_stopped_before_its_first_checkpoint_reads_as_stopped_with_no_error(tmp_path):
    run = status_of(tmp_path / "run", **ABANDONED)
    (run / LOCK).write_text("4321")
    (run / STOP_MARK).write_text("4321")                           # Stop signalled this very process
    status = read_status(run)
    assert (status["state"], status["error"], status.get("interrupted")) == ("stopped", None, None)


def test_a_stopped_run_reads_at_its_checkpoint_and_not_interrupted(tmp_path):
    run = status_of(tmp_path / "run", **ABANDONED, checkpoint_epoch=1, checkpoint_step=8)
    (run / CHECKPOINT).write_bytes(b"weights")
    (run / LOCK).write_text("4321")
    (run / STOP_MARK).write_text("4321")
    status = read_status(run)
    assert {k: status[k] for k in ("state", "epoch", "step", "eta_seconds", "error")} == {
        "state": "stopped", "epoch": 1, "step": 8, "eta_seconds": None, "error": "an old error"}
    assert "interrupted" not in status


def test_a_killed_run_reads_as_interrupted_at_its_checkpoint_saying_which(tmp_path):
    """5 steps an epoch: its checkpoint at step 5 ends epoch 1, and its last step, 9, is in epoch 2; the
    message names the checkpoint's epoch."""
    run = status_of(tmp_path / "run", **ABANDONED, checkpoint_epoch=1, checkpoint_step=5)
    (run / CHECKPOINT).write_bytes(b"weights")
    (run / LOCK).write_text("4321")
    status = read_status(run)
    assert {k: status[k] for k in ("state", "interrupted", "epoch", "step", "eta_seconds")} == {
        "state": "stopped", "interrupted": True, "epoch": 1, "step": 5, "eta_seconds": None}
    assert status["error"] == ("the training process ended without a word (killed, or out of memory?); its last "
                               "checkpoint (epoch 1, step 5) is kept and the run can be resumed from it")


@pytest.mark.parametrize("stop", [False, True])
def test_an_older_status_without_checkpoint_fields_reads_at_its_last_epoch_and_step(tmp_path, stop):
    """A status written before checkpoint_epoch and checkpoint_step existed: its epoch and step are the
    checkpoint's. Without the run's length the message names the epoch it has."""
    run = status_of(tmp_path / "run", state="running", epoch=2, step=10)
    (run / CHECKPOINT).write_bytes(b"weights")
    if stop:
        (run / LOCK).write_text("77")
        (run / STOP_MARK).write_text("77")
    status = read_status(run)
    assert (status["state"], status["epoch"], status["step"]) == ("stopped", 2, 10)
    assert stop or "its last checkpoint (epoch 2, step 10) is kept" in status["error"]


def test_a_live_run_keeps_its_pid_and_gets_its_holders_when_it_wrote_none(tmp_path):
    run = status_of(tmp_path / "run", state="running", pid=None, started=1.0)
    with python(HOLD_LOCK, run) as holder:
        held(holder)
        assert read_status(run)["pid"] == holder.pid
        write_json_atomic(run / STATUS, {"state": "running", "pid": 1, "started": 1.0})
        assert read_status(run)["pid"] == 1                        # what the run wrote is not replaced
        write_json_atomic(run / STATUS, {"state": "running", "pid": None, "started": 1.0})
        (run / LOCK).write_text(str(os.getpid()))                 # held, but not by the process it names
        assert read_status(run)["pid"] is None
        release(holder)


# The runs folder ---------------------------------------------------------------------------------------

def test_the_runs_are_listed_newest_first_and_one_without_a_start_last(tmp_path):
    status_of(tmp_path / "b", state="finished", started=0.5)
    status_of(tmp_path / "a", state="finished", started=2.0)
    status_of(tmp_path / "c", state="finished")
    (tmp_path / "not-a-run").mkdir()
    assert [d.name for d, _ in list_runs(tmp_path)] == ["a", "b", "c"]
    assert list_runs(tmp_path / "nothing-here") == []


def test_the_active_run_is_the_one_whose_process_holds_it(tmp_path):
    status_of(tmp_path / "done", state="finished", started=3.0)
    live = status_of(tmp_path / "live", state="running", started=2.0)
    assert active_run(tmp_path) is None                            # "running", but no process holds it
    with python(HOLD_LOCK, live) as holder:
        held(holder)
        assert active_run(tmp_path) == live
        release(holder)


def test_a_reader_of_the_lock_is_no_holder(tmp_path):
    run = status_of(tmp_path / "run", state="running")
    with python(HOLD_SHARED, run) as reader:
        held(reader)
        assert not holds_lock(reader.pid, run)
        release(reader)
    with python(HOLD_LOCK, run) as holder:
        held(holder)
        assert holds_lock(holder.pid, run) and not holds_lock(os.getpid(), run)
        assert not holds_lock(holder.pid, tmp_path / "no-such-run")
        release(holder)
    assert not holds_lock(holder.pid, run)                          # it has ended


def test_a_live_sibling_after_the_run_itself_is_found(tmp_path):
    own = tmp_path / "a-own"
    own.mkdir()
    (own / LOCK).write_text("")
    (tmp_path / "0-link").symlink_to(own)                          # the run itself under another name
    (tmp_path / "b-idle").mkdir()
    (tmp_path / "b-idle" / LOCK).write_text("")
    with python(HOLD_LOCK, tmp_path / "c-live") as holder:
        held(holder)
        assert live_siblings(own) == [tmp_path / "c-live"]
        release(holder)
    assert live_siblings(own) == [] and live_siblings(tmp_path / "missing" / "run") == []


def test_without_flock_a_sibling_lives_while_the_pid_in_its_status_does(tmp_path, monkeypatch):
    """Where there is no flock (Windows), the pid in status.json is all there is."""
    own = status_of(tmp_path / "own", state="running")
    live, gone = status_of(tmp_path / "live", pid=os.getpid()), status_of(tmp_path / "gone", pid=2 ** 22 + 1)
    for run in (own, live, gone):
        (run / LOCK).write_text("")
    monkeypatch.setattr(lifecycle, "fcntl", None)
    assert live_siblings(own) == [live]
    assert lock_holder(live) == os.getpid() and lock_holder(gone) is None


@pytest.mark.parametrize("known", [True, False])
def test_a_run_refused_beside_a_live_one_names_it_and_its_pid_when_known(tmp_path, known):
    with python(HOLD_LOCK, tmp_path / "live") as holder:
        held(holder)
        if not known:
            (tmp_path / "live" / LOCK).write_text(str(os.getpid()))   # the holder is then not known
        with pytest.raises(RuntimeError) as refused:
            with lifecycle.run_lock(tmp_path / "new"):
                pass
        release(holder)
    pid = f" (pid {holder.pid})" if known else ""
    assert str(refused.value) == (f"A training run is already going: live{pid} in {tmp_path}. One run trains at a "
                                  "time in a folder of runs: stop it or wait for it to finish, or train in another "
                                  "folder.")
    assert not (tmp_path / "new").exists()


def test_a_start_while_a_run_trains_is_refused_naming_it(tmp_path):
    live = status_of(tmp_path / "live", state="running", started=1.0)
    with python(HOLD_LOCK, live) as holder:
        held(holder)
        with pytest.raises(RuntimeError) as refused:
            start_run(tmp_path, ModelConfig(), TrainConfig())
        release(holder)
    assert str(refused.value) == "A training run is already going: live. Stop it or wait for it to finish."
    assert sorted(p.name for p in tmp_path.iterdir()) == [".start.lock", "live"]


def test_no_free_folder_name_says_where(tmp_path):
    root = tmp_path / "runs"
    assert lifecycle._new_folder(root, "x") == root / "x"        # the runs folder is made with it
    for n in range(2, 1000):
        (root / f"x-{n}").mkdir()
    with pytest.raises(RuntimeError) as refused:
        lifecycle._new_folder(root, "x")
    assert str(refused.value) == f"no free folder name for x under {root}"


def test_the_flags_of_a_run_rebuild_its_configs():
    model, train = ModelConfig(arch="conv", latent_dim=16, hidden=512), TrainConfig(epochs=7, lr=3e-3, limit=640)
    args = cli_args(model, train)
    assert args[:4] == ["--latent-dim", "16", "--arch", "conv"]
    assert len(args) == 2 * (len(fields(model)) + len(fields(train)))
    assert _configs(build_parser().parse_args(["train", "--run-dir", "x", *args])) == (model, train)


# What the launcher hands its training process --------------------------------------------------------

def test_a_started_run_is_marked_running_and_its_process_holds_its_lock(tmp_path, stand_in):
    before = time.time()
    run = start_run(tmp_path / "runs", ModelConfig(), TrainConfig(epochs=3), cwd=tmp_path)
    after = time.time()
    child = stand_in()
    assert child["argv"] == ["-m", "vae", "train", "--run-dir", str(run), *cli_args(ModelConfig(), TrainConfig(epochs=3))]
    assert child["lock_fd"].isdigit() and child["handed_the_lock"]
    assert child["own_session"] and child["stdin_is_null"] and child["cwd"] == str(tmp_path)
    assert lock_holder(run) == child["pid"] == read_pid(run / LOCK)
    assert os.sched_getscheduler(child["pid"]) == os.SCHED_IDLE              # background work (_yield_the_cpu)
    assert niceness(child["pid"]) == os.getpriority(os.PRIO_PROCESS, 0)     # the class alone: no nice value too
    status = read_recorded_status(run)
    assert before <= status["started"] <= after and status["updated"] == status["heartbeat"] == status["started"]
    assert {k: status[k] for k in ("state", "pid", "error", "error_message", "interrupted", "phase", "eta_seconds",
                                   "finishes_at", "command")} == {
        "state": "running", "pid": None, "error": None, "error_message": None, "interrupted": False,
        "phase": "starting", "eta_seconds": None, "finishes_at": None, "command": child["argv"]}
    assert any(t.name == f"reap {run.name}" and t.daemon for t in threading.enumerate())
    assert wait_until(lambda: (run / LOG).read_text() == "to stdout\nto stderr\n", timeout=30)
    stand_in.release.touch()
    assert wait_until(lambda: reaped(child["pid"]), timeout=30)    # waited for: no zombie left


@pytest.mark.parametrize("missing", ["no SCHED_IDLE", "refused"])
def test_where_the_idle_class_is_missing_a_run_is_niced_instead(tmp_path, stand_in, monkeypatch, missing):
    """macOS has no os.sched_setscheduler; a sandbox may refuse it: the run is niced TRAIN_NICENESS."""
    if missing == "no SCHED_IDLE":
        monkeypatch.delattr(os, "sched_setscheduler")
    else:
        def refuse(*args):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "sched_setscheduler", refuse)
    start_run(tmp_path / "runs", ModelConfig(), TrainConfig(), cwd=tmp_path)
    child = stand_in()
    assert os.sched_getscheduler(child["pid"]) == os.SCHED_OTHER
    assert niceness(child["pid"]) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + lifecycle.TRAIN_NICENESS)


def test_where_no_priority_can_be_set_a_run_starts_as_it_is(tmp_path, stand_in, monkeypatch):
    """Windows: neither the scheduling class nor the nice value can be set; the run starts all the same."""
    monkeypatch.delattr(os, "sched_setscheduler")
    monkeypatch.delattr(os, "setpriority")
    start_run(tmp_path / "runs", ModelConfig(), TrainConfig(), cwd=tmp_path)
    child = stand_in()
    assert os.sched_getscheduler(child["pid"]) == os.SCHED_OTHER
    assert niceness(child["pid"]) == os.getpriority(os.PRIO_PROCESS, 0)


def test_a_started_run_does_not_read_the_servers_input(tmp_path, stand_in):
    """A server started in a terminal: its training processes must not take what is typed there."""
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        start_run(tmp_path, ModelConfig(), TrainConfig())
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert stand_in()["stdin_is_null"]


def test_a_resumed_run_keeps_its_start_and_status_and_appends_to_its_log(tmp_path, stand_in):
    run = status_of(tmp_path / "run", state="stopped", started=1000.0, epoch=2, step=8,
                    train_config={"device": "cpu"}, error="stopped by the user")
    (run / CHECKPOINT).write_bytes(b"weights")
    (run / LOG).write_text("epoch 1\n")
    assert resume_run(run, cwd=tmp_path) == run
    child = stand_in()
    assert child["argv"] == ["-m", "vae", "train", "--run-dir", str(run), "--resume", "--device", "cpu"]
    assert child["handed_the_lock"] and child["cwd"] == str(tmp_path)
    assert os.sched_getscheduler(child["pid"]) == os.SCHED_IDLE
    status = read_recorded_status(run)
    assert (status["state"], status["started"], status["epoch"], status["step"], status["error"]) == (
        "running", 1000.0, 2, 8, None)
    assert status["updated"] > 1000.0
    assert wait_until(lambda: (run / LOG).read_text() == "epoch 1\nto stdout\nto stderr\n", timeout=30)


@pytest.mark.parametrize("pidfd", [True, False])
def test_stop_ends_the_process_that_holds_the_run_and_it_reads_as_stopped(tmp_path, stand_in, monkeypatch, pidfd):
    if not pidfd:                                                  # no pidfd (before Linux 5.3, macOS): os.kill
        monkeypatch.delattr(lifecycle.os, "pidfd_open")
    run = start_run(tmp_path, ModelConfig(), TrainConfig())
    child = stand_in()
    assert stop_run(run)
    assert wait_until(lambda: reaped(child["pid"]), timeout=30)
    assert (run / STOP_MARK).read_text() == str(child["pid"])
    status = read_status(run)
    assert (status["state"], status["error"]) == ("stopped", None)
    assert not stop_run(run)                                       # nothing holds it now


def test_without_the_kernels_lock_list_stop_trusts_the_holder_the_lock_file_names(tmp_path, monkeypatch):
    """Where /proc does not list locks (macOS), the pid written in run.lock is all there is."""
    run = status_of(tmp_path / "run", state="running")
    with python(HOLD_LOCK, run) as holder:
        held(holder)
        monkeypatch.setattr(lifecycle, "PROC", tmp_path / "no-proc")
        assert lock_holder(run, search=True) == holder.pid
        (run / LOCK).write_text("")                                # held, and no pid written: not known
        assert lock_holder(run) == 0
        (run / LOCK).write_text(str(holder.pid))
        assert stop_run(run)
        assert holder.wait(30) == -signal.SIGTERM


def test_a_process_that_is_asked_whether_it_lives_is_not_signalled():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        assert pid_alive(sleeper.pid)
        time.sleep(0.2)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


# Deleting ------------------------------------------------------------------------------------------------

def test_each_refused_delete_says_what_and_why(tmp_path):
    from vae.files import PROJECT_ROOT

    shipped = PROJECT_ROOT / "checkpoints"
    with pytest.raises(ValueError) as refused:
        delete_run(shipped / "mnist-2d.pt", shipped)
    assert str(refused.value) == f"{shipped / 'mnist-2d.pt'} holds a shipped model; it is never deleted"
    inner = status_of(tmp_path / "a" / "b", state="finished")
    with pytest.raises(ValueError) as refused:
        delete_run(inner, tmp_path)
    assert str(refused.value) == f"{inner} is not a run folder under {tmp_path}; nothing was deleted"
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError) as refused:
        delete_run(tmp_path / "plain", tmp_path)
    assert str(refused.value) == "plain has no status.json: it is not a run folder; nothing was deleted"
    live = status_of(tmp_path / "live", state="running")
    with python(HOLD_LOCK, live) as holder:
        held(holder)
        with pytest.raises(RuntimeError) as refused:
            delete_run(live, tmp_path)
        release(holder)
    assert str(refused.value) == "live is training: stop it before deleting it"
    assert inner.is_dir() and (tmp_path / "plain").is_dir() and live.is_dir()


def test_a_run_lock_held_elsewhere_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    with python(HOLD_LOCK, run) as holder:
        held(holder)
        with pytest.raises(RuntimeError) as refused:
            lifecycle._lock_file(run)
        release(holder)
    assert str(refused.value) == f"{run} is in use by another training process (pid {holder.pid})"
    with python(HOLD_LOCK, run) as holder:
        held(holder)
        (run / LOCK).write_text(str(os.getpid()))                  # names a process that does not hold it
        with pytest.raises(RuntimeError) as refused:
            lifecycle._lock_file(run)
        release(holder)
    assert str(refused.value) == f"{run} is in use by another training process (pid unknown)"
    fd = lifecycle._lock_file(run)                                 # its holder has ended: it is ours
    try:
        assert (run / LOCK).read_text() == ""                      # no earlier holder's pid can read as ours
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE((run / LOCK).stat().st_mode) == 0o644 & ~umask   # a plain file, not executable
        assert lock_holder(run) == 0 and lock_holder(run, search=True) == os.getpid()
    finally:
        os.close(fd)

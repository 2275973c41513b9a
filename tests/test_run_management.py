"""vae.eta, vae.runfiles and vae.lifecycle as a user manages runs: the time left, a run's name, deleting a run."""

import fcntl
import os
import re
import sys

import pytest

from app_pages import catalog
from vae import ModelConfig, lifecycle
from vae.eta import RemainingTime
from vae.files import PROJECT_ROOT
from vae.lifecycle import delete_run, list_runs, read_status, resume_run
from vae.runfiles import CHECKPOINT, LOCK, STATUS, read_name, read_pid, rename_run, write_json_atomic

from test_runs import HOLD_LOCK, python


def schedule(steps_per_epoch=100, epochs=3, step=0.01, epoch_end=6.0, snapshots=(3, 8, 15, 30, 50, 75),
             snapshot=1.5):
    """When each step's event fires in a run like the CLI's: steady steps, a replay snapshot after some steps
    of the first epoch, a test pass (and checkpoint) after each epoch; and when the run ends."""
    times, now = [], 0.0
    for s in range(1, steps_per_epoch * epochs + 1):
        now += step
        times.append((s, now))
        if s < steps_per_epoch and s in snapshots:
            now += snapshot
        if s % steps_per_epoch == 0:
            now += epoch_end
    return times, now


def test_the_time_left_ignores_outliers_and_counts_the_epoch_ends_to_come():
    times, end = schedule()
    eta = RemainingTime(steps_per_epoch=100, total_steps=300)
    previous = None
    for (step, now), (_, before) in zip(times, [(0, 0.0)] + times):
        eta.step_ended(step, now)
        truth = end - now
        left = eta.seconds_left()
        if step > 101:                               # once an epoch end has been seen: close to the truth
            assert left == pytest.approx(truth, rel=0.05, abs=0.1), (step, left, truth)
        if step > 1:                                 # and never the 1 s that the last interval alone gives
            assert left >= min(truth, 1.5 * 1.0), (step, left, truth)
        if previous is not None and step > 101:      # smooth: it falls as the time does, no jumps
            assert previous - left == pytest.approx(now - before, abs=0.02), (step, previous, left)
        previous = left
    # The naive estimate from the last interval says about 1 s where 12 s (a whole epoch's end) are left.
    (_, before), (step, now) = times[150 - 2], times[150 - 1]
    naive = (now - before) * (300 - step)
    assert naive == pytest.approx(1.5) and end - now > 12
    eta_at_150 = RemainingTime(100, 300)
    for s, t in times[:150]:
        eta_at_150.step_ended(s, t)
    assert eta_at_150.seconds_left() == pytest.approx(end - now, rel=0.05)


def test_before_any_step_the_time_left_is_unknown():
    eta = RemainingTime(steps_per_epoch=10, total_steps=20)
    assert eta.seconds_left() is None
    eta.step_ended(1, 5.0)
    assert eta.seconds_left() is None
    eta.step_ended(2, 5.1)
    assert eta.seconds_left() == pytest.approx(18 * 0.1)



def test_a_typical_step_is_the_median_interval_and_steps_may_be_reported_in_strides():
    eta = RemainingTime(steps_per_epoch=100, total_steps=100)
    for step, now in [(1, 0.0), (2, 0.1), (3, 0.3), (4, 0.6), (5, 1.0), (6, 1.5)]:    # 0.1 s … 0.5 s a step
        eta.step_ended(step, now)
    assert eta.seconds_left() == pytest.approx(94 * 0.3)              # the median of five intervals, not their mean
    strides = RemainingTime(steps_per_epoch=100, total_steps=100)
    for step in (10, 20, 30):                                         # told every tenth step: 0.1 s a step
        strides.step_ended(step, step / 10)
    assert strides.seconds_left() == pytest.approx(70 * 0.1)
    strides.step_ended(30, 5.0)                                       # the same step again: no interval, no error
    strides.step_ended(40, 5.0 + 10 * 0.1)
    assert strides.seconds_left() == pytest.approx(60 * 0.1)



def test_slow_intervals_and_epoch_ends_count_as_their_extra_time_to_come():
    """Exact figures (binary fractions): a typical step of 0.25 s; an interval over 3 typical steps holds extra
    time, counted once for each epoch end still to come (before the first epoch end, as a stand-in for it)."""
    eta = RemainingTime(steps_per_epoch=100, total_steps=200)
    for step, now in [(1, 0.0), (2, 0.25), (3, 0.5), (4, 0.75), (5, 1.625), (6, 1.875)]:   # 0.625 s extra at step 5
        eta.step_ended(step, now)
    assert eta.seconds_left() == 194 * 0.25 + 2 * 0.625                 # 2 epoch ends to come
    eta.step_ended(7, 2.625)                                             # 3 typical steps: not slow
    assert eta.seconds_left() == 193 * 0.25 + 2 * 0.625
    eta.step_ended(9, 5.125)                                             # two steps in 2.5 s: 2 s extra
    assert eta.seconds_left() == 191 * 0.25 + 2 * (0.625 + 2.0) / 2
    ends = RemainingTime(steps_per_epoch=4, total_steps=8)
    for step, now in [(1, 0.0), (2, 0.125), (3, 0.25), (4, 0.375), (5, 1.0), (6, 1.125)]:  # epoch end: 0.5 s
        ends.step_ended(step, now)
    assert ends.seconds_left() == 2 * 0.125 + 1 * 0.5                   # steps 7 and 8, then the last epoch end


def test_the_typical_step_follows_the_last_200_intervals():
    eta = RemainingTime(steps_per_epoch=1000, total_steps=1000)
    now = 0.0
    for step in range(1, 502):                                           # 300 intervals of 1 s, then 200 of 0.125 s
        eta.step_ended(step, now)
        now += 1.0 if step <= 300 else 0.125
    assert eta.seconds_left() == (1000 - 501) * 0.125


def run_folder(root, name, state="finished", **status):
    run_dir = root / name
    write_json_atomic(run_dir / STATUS, {"state": state, "started": 1.0, "epoch": 1, "epochs": 1,
                                              "model_config": {"latent_dim": 2}, "test_loss": 150.0, **status})
    (run_dir / CHECKPOINT).write_bytes(b"weights")
    return run_dir


def test_a_renamed_run_keeps_its_folder_and_is_listed_by_its_new_name(tmp_path):
    run_dir = run_folder(tmp_path, "20260101-120000-mlp-z2")
    assert read_name(run_dir) is None and catalog.run_label(run_dir) == "run 20260101-120000-mlp-z2"
    assert rename_run(run_dir, "  wide   β=4\nsecond line ") == "wide β=4 second line"
    assert read_name(run_dir) == "wide β=4 second line"
    [choice] = catalog.run_choices(tmp_path)
    assert choice.path == run_dir / CHECKPOINT and choice.name == "wide β=4 second line"
    assert read_status(run_dir)["state"] == "finished"          # the status is not touched
    with pytest.raises(ValueError, match="at most 32 characters"):
        rename_run(run_dir, "x" * 33)
    assert read_name(run_dir) == "wide β=4 second line"
    assert rename_run(run_dir, "   ") == run_dir.name            # empty: back to the folder's name
    assert read_name(run_dir) is None
    with pytest.raises(ValueError, match="not a run folder"):
        rename_run(tmp_path / "nothing", "x")


def test_a_name_of_the_longest_length_is_kept_and_clearing_a_name_never_given_is_no_error(tmp_path):
    run_dir = run_folder(tmp_path, "20260101-120000-mlp-z2")
    assert rename_run(run_dir, "") == run_dir.name and read_name(run_dir) is None      # no name.txt to remove
    longest = "abcdefghij" * 3 + "kl"                                                   # 32 characters
    assert rename_run(run_dir, longest) == longest and read_name(run_dir) == longest



def test_a_name_file_that_is_empty_or_not_utf8_still_reads(tmp_path):
    """name.txt is written by rename_run, but a person may edit it: blank reads as no name, bytes that are not
    UTF-8 as U+FFFD, never an error that would break the runs list."""
    run_dir = run_folder(tmp_path, "20260101-120000-mlp-z2")
    (run_dir / "name.txt").write_text(" \n\n")
    assert read_name(run_dir) is None
    (run_dir / "name.txt").write_bytes(b"caf\xe9 \xff\n")
    assert read_name(run_dir) == "caf\ufffd \ufffd"


def test_deleting_removes_the_folder_and_nothing_else(tmp_path):
    keep, gone = run_folder(tmp_path, "keep"), run_folder(tmp_path, "gone")
    delete_run(gone, tmp_path)
    assert not gone.exists() and keep.is_dir()
    assert [d for d, _ in list_runs(tmp_path)] == [keep]


def test_a_run_whose_process_holds_its_lock_is_not_deleted(tmp_path):
    run_dir = run_folder(tmp_path, "training", state="running")
    with python(HOLD_LOCK, run_dir) as holder:
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(RuntimeError, match="is training: stop it before deleting it"):
            delete_run(run_dir, tmp_path)
        assert (run_dir / CHECKPOINT).is_file()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(30) == 0
    delete_run(run_dir, tmp_path)                  # its process has ended: now it can go
    assert not run_dir.exists()


def test_what_is_not_a_run_under_the_runs_folder_is_never_deleted(tmp_path):
    inner = run_folder(tmp_path / "a", "b")           # two levels down: not a child of the root
    with pytest.raises(ValueError, match="not a run folder under"):
        delete_run(inner, tmp_path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="no status.json"):
        delete_run(tmp_path / "plain", tmp_path)
    (tmp_path / "link").symlink_to(inner)
    with pytest.raises(ValueError, match="not a run folder under"):
        delete_run(tmp_path / "link", tmp_path / "a")
    assert inner.is_dir() and (tmp_path / "plain").is_dir()
    shipped = PROJECT_ROOT / "checkpoints"
    with pytest.raises(ValueError, match="shipped model"):
        delete_run(shipped, PROJECT_ROOT)
    with pytest.raises(ValueError, match="shipped model"):
        delete_run(shipped / "anything", shipped)
    assert (shipped / "mnist-2d.pt").is_file()


class Launched:
    """What resume_run would start, in place of a training process: its command is all these tests look at."""
    commands: list[list[str]] = []
    pid = 2 ** 22 + 1                    # above the largest pid Linux gives: no process

    def __init__(self, cmd, **kwargs):
        Launched.commands.append(cmd)
        Launched.cwd = kwargs.get("cwd")

    def wait(self):
        return 0


@pytest.fixture
def launched(monkeypatch):
    Launched.commands = []
    monkeypatch.setattr(lifecycle.subprocess, "Popen", Launched)
    return Launched.commands


@pytest.mark.parametrize("train_config, device", [({"device": "cpu", "epochs": 3}, "cpu"), ({"epochs": 3}, "auto"),
                                                  (None, "auto")])
def test_a_stopped_run_resumes_on_the_device_it_was_started_with(tmp_path, launched, train_config, device):
    run_dir = run_folder(tmp_path, "20260101-120000-mlp-z2", state="stopped", train_config=train_config)
    assert resume_run(run_dir, cwd=tmp_path) == run_dir
    expected = ["-m", "vae", "train", "--run-dir", str(run_dir), "--resume", "--device", device]
    assert launched == [[sys.executable, *expected]] and Launched.cwd == tmp_path
    assert read_status(run_dir)["command"] == expected


def test_only_a_stopped_run_with_a_checkpoint_is_resumed(tmp_path, launched):
    finished = run_folder(tmp_path, "finished")                   # with a checkpoint, but it ended on its own
    no_checkpoint = run_folder(tmp_path, "no-checkpoint", state="stopped")
    (no_checkpoint / CHECKPOINT).unlink()
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    for run_dir in (finished, no_checkpoint, not_a_run):
        with pytest.raises(RuntimeError, match=f"^{run_dir.name} is not a stopped run with a checkpoint; "
                                               "there is nothing to resume$"):
            resume_run(run_dir)
    assert launched == []
    assert read_status(finished)["state"] == "finished" and read_status(no_checkpoint)["state"] == "stopped"


def test_a_new_run_is_named_by_its_start_and_model_and_never_takes_a_taken_folder(tmp_path):
    assert re.fullmatch(r"\d{8}-\d{6}-conv-z16", lifecycle.run_name(ModelConfig(arch="conv", latent_dim=16)))
    made = [lifecycle._new_folder(tmp_path, "20260101-120000-mlp-z2") for _ in range(3)]     # three in one second
    assert [d.name for d in made] == ["20260101-120000-mlp-z2", "20260101-120000-mlp-z2-2", "20260101-120000-mlp-z2-3"]
    assert all(d.is_dir() for d in made)
    for n in range(4, 1000):
        (tmp_path / f"20260101-120000-mlp-z2-{n}").mkdir()
    with pytest.raises(RuntimeError, match="^no free folder name for 20260101-120000-mlp-z2 under "):
        lifecycle._new_folder(tmp_path, "20260101-120000-mlp-z2")             # 999 taken: it gives up


def test_the_training_process_adopts_the_lock_its_launcher_handed_it_and_only_that(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    handed = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(handed, fcntl.LOCK_EX)                   # as _launch holds it: no other open of it can lock it now
    monkeypatch.setenv(lifecycle.LOCK_FD_ENV, str(handed))
    with lifecycle.run_lock(run_dir):
        assert read_pid(run_dir / LOCK) == os.getpid() and lifecycle.LOCK_FD_ENV not in os.environ
    with pytest.raises(OSError):
        os.fstat(handed)                                 # adopted, then let go with the run
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT, 0o644)
    for fd in (str(other), "not a number"):
        monkeypatch.setenv(lifecycle.LOCK_FD_ENV, fd)
        with lifecycle.run_lock(run_dir):                # its own lock
            assert read_pid(run_dir / LOCK) == os.getpid()
    os.fstat(other)                                      # not the run's lock: left alone
    assert (tmp_path / "other").read_text() == ""
    os.close(other)

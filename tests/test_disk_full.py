"""A full disk in the middle of a training run (`python -m vae train`, in process): the error names the file
that could not be written, and status.json says "failed" with that reason wherever it can still be written,
where it stayed "running" and the dashboard said the process "ended without a word"."""
import errno
import io
import os
from pathlib import Path

import pytest

from vae import files, runfiles
from vae.cli import main
from vae.runfiles import read_recorded_status

TINY = ["--epochs", "1", "--limit", "64", "--batch-size", "64", "--log-every", "1", "--device", "cpu"]


def no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))       # what write(2) raises: no file named


class FullDisk:
    """A disk that fills up at the first write to metrics.jsonl: that write fails as the kernel's does, and,
    with `new_files_too`, so does every file made after it (the temporary files of atomic writes)."""

    def __init__(self, monkeypatch, new_files_too: bool):
        self.full = False
        real_open, real_mkstemp = open, files.tempfile.mkstemp
        disk = self

        class NoRoom(io.RawIOBase):
            def writable(self):
                return True

            def write(self, data):
                disk.full = True
                raise no_space()

        def fake_open(path, mode="r", *args, **kwargs):
            if Path(path).name == runfiles.METRICS and "a" in mode:
                return io.TextIOWrapper(io.BufferedWriter(NoRoom()), line_buffering=True)
            return real_open(path, mode, *args, **kwargs)

        def fake_mkstemp(*args, **kwargs):
            if self.full and new_files_too:
                raise no_space()
            return real_mkstemp(*args, **kwargs)

        monkeypatch.setattr(runfiles, "open", fake_open, raising=False)
        monkeypatch.setattr(files.tempfile, "mkstemp", fake_mkstemp)


@pytest.mark.parametrize("new_files_too", [False, True], ids=["metrics-only", "no-new-file-either"])
def test_a_full_disk_fails_the_run_naming_the_file(tmp_path, capsys, monkeypatch, new_files_too):
    disk = FullDisk(monkeypatch, new_files_too)
    run = tmp_path / "run"
    code = main(["train", "--run-dir", str(run), *TINY])
    err = capsys.readouterr().err
    assert disk.full and code == 2
    assert f"error: [Errno 28] No space left on device: '{run / 'metrics.jsonl'}'" in err.splitlines(), err
    status = read_recorded_status(run)            # as written: the process has ended either way
    assert status["state"] == "failed", status
    assert status["error"] == f"OSError: [Errno 28] No space left on device: '{run / 'metrics.jsonl'}'"


def test_a_checkpoint_that_does_not_fit_fails_the_run_naming_it(tmp_path, capsys, monkeypatch):
    import torch

    def full(obj, f, *args, **kwargs):       # torch.save into an open file raises the OSError of write(2)
        raise no_space()

    monkeypatch.setattr(torch, "save", full)
    run = tmp_path / "run"
    code = main(["train", "--run-dir", str(run), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and f"No space left on device: '{run / 'checkpoint.pt'}'" in err, err
    status = read_recorded_status(run)
    assert status["state"] == "failed" and str(run / "checkpoint.pt") in status["error"]
    assert not list(run.glob(".*.part")) and not (run / "checkpoint.pt").exists()

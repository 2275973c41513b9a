"""A full disk in the middle of a training run (`python -m vae train`, in process): the error names the file
that could not be written, and status.json says "failed" with that reason wherever it can still be written,
where it stayed "running" and the dashboard said the process "ended without a word"."""
import errno
import io
import json
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


def test_a_metrics_write_that_failed_is_reported_once_not_again_at_close(tmp_path, monkeypatch):
    FullDisk(monkeypatch, new_files_too=False)
    writer = runfiles.RunWriter(tmp_path / "run")
    with pytest.raises(OSError, match="No space left on device") as caught:
        writer.metrics({"split": "train", "step": 1, "loss": 1.0})
    assert caught.value.filename == str(tmp_path / "run" / runfiles.METRICS)
    writer.close()                          # the buffered row fails to flush again: already said, not raised


def test_an_error_that_only_closing_metrics_reports_is_raised_naming_the_file(tmp_path, monkeypatch):
    """Some file systems (NFS) report a full disk only when the file is closed."""
    class FullAtClose(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            return len(data)

        def close(self):
            if not self.closed:
                super().close()
                raise no_space()

    real_open = open
    monkeypatch.setattr(runfiles, "open", lambda path, mode="r", *args, **kwargs: (
        io.TextIOWrapper(io.BufferedWriter(FullAtClose()), line_buffering=True) if "a" in mode
        else real_open(path, mode, *args, **kwargs)), raising=False)
    writer = runfiles.RunWriter(tmp_path)
    writer.metrics({"split": "train", "step": 1, "loss": 1.0})
    with pytest.raises(OSError) as caught:
        writer.close()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / runfiles.METRICS)


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


class FillsAt(io.FileIO):
    """A real file on a disk with `room` bytes left: the write that would pass it fails as write(2) does."""

    def __init__(self, path, mode, room: int):
        super().__init__(path, mode)
        self.room = room

    def write(self, data):
        if len(data) > self.room:
            raise no_space()
        self.room -= len(data)
        return super().write(data)


@pytest.mark.parametrize("room", [0, 600, 5000])
@pytest.mark.parametrize("writer", ["checkpoint", "classifier"])
def test_a_checkpoint_on_a_full_disk_fails_with_the_write_error_naming_it(tmp_path, monkeypatch, room, writer):
    """torch.save itself (not a stand-in) fills the disk: the error is the write's OSError naming the file,
    not torch's "unexpected pos 704 vs 598", and no partial file is left."""
    from vae import VAE, ModelConfig, checkpoint, save_checkpoint
    from vae.classifier import DigitClassifier, save_classifier

    real_open = open
    monkeypatch.setattr(checkpoint, "open", lambda path, mode="r", *args, **kwargs: (
        io.BufferedWriter(FillsAt(path, mode, room), buffer_size=512) if "w" in mode
        else real_open(path, mode, *args, **kwargs)), raising=False)
    path = tmp_path / "models" / "model.pt"
    with pytest.raises(OSError) as caught:
        if writer == "checkpoint":
            save_checkpoint(path, VAE(ModelConfig(latent_dim=2, hidden=32)), {})
        else:
            save_classifier(path, DigitClassifier(), {})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path), repr(caught.value)
    assert str(caught.value) == f"[Errno 28] No space left on device: '{path}'"
    assert list(path.parent.iterdir()) == []


def test_a_status_is_rewritten_in_the_blocks_it_already_has_and_no_further(tmp_path):
    """On a full disk status.json is rewritten where it lies: up to the whole blocks the file has on disk
    (not only its length), padded with spaces to its old length; a longer text, or no file, is refused."""
    path = tmp_path / runfiles.STATUS
    old = b'{"state": "running", "step": 12, "epoch": 0}'
    path.write_bytes(old)
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    blocks = os.stat(path).st_blocks * 512
    assert blocks > len(old), "the file should fill part of a block"
    assert runfiles._rewrite_in_place(path, b'{"state":"failed"}')
    assert json.loads(path.read_bytes()) == {"state": "failed"} and os.stat(path).st_size == len(old)
    whole = b'{"error":"' + b"x" * (blocks - 12) + b'"}'                 # exactly the blocks it has
    assert len(whole) == blocks and runfiles._rewrite_in_place(path, whole) and path.read_bytes() == whole
    assert not runfiles._rewrite_in_place(path, whole[:-2] + b'x"}')         # one byte more: it would grow
    assert path.read_bytes() == whole
    assert not runfiles._rewrite_in_place(tmp_path / "missing.json", b"{}")
    assert not (tmp_path / "missing.json").exists()

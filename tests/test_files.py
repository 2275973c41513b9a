"""vae.files.atomic_path: a write is atomic (the old file or the new one) and durable (synced before it counts)."""
import errno
import os
from pathlib import Path

import pytest

from vae import files
from vae.files import atomic_path


def test_the_file_is_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    target = tmp_path / "status.json"
    with atomic_path(target) as tmp:
        tmp.write_text("{}")
    assert events == [("fsync", str(tmp)), ("replace", str(tmp), str(target)), ("fsync", str(tmp_path))]
    assert target.read_text() == "{}" and not tmp.exists()


def test_a_failed_write_leaves_the_old_file_and_names_the_target(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.write_text("old")
    with pytest.raises(OSError) as raised, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(raised.value) == f"[Errno 28] No space left on device: '{target}'"
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    with pytest.raises(FileNotFoundError, match="elsewhere"), atomic_path(target):
        Path(tmp_path / "elsewhere").read_text()             # an error about another file keeps its own name


def test_no_room_for_the_temporary_file_names_the_target(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.tempfile, "mkstemp", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*status\.json'"), \
            atomic_path(tmp_path / "status.json"):
        pass

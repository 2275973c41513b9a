"""Where the project's files live, and atomic, durable file writes: readers see the old file or the new
one, never half of one, and once the write has returned the new one survives a power cut."""
from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]   # the checkout holding vae/: checkpoints/, data/, runs/ live here


def named(exc: OSError, path, *, instead_of=None) -> OSError:
    """`exc` naming `path` when it names no file (or only `instead_of`, a temporary file): a write's error
    says only "[Errno 28] No space left on device"."""
    if exc.errno is None or exc.filename not in (None, instead_of):
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable. Not every system can open a folder (Windows) or sync one."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path):
    """Yield a temporary path in `path`'s folder; when the block succeeds its file is synced to disk,
    replaces `path`, and the folder is synced (so the rename is on disk too); when it fails it is removed.
    The file is made readable by all (mkstemp makes it owner-only). An OSError that names no file names `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        if (told := named(exc, path)) is exc:
            raise
        raise told from exc
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and (told := named(exc, path, instead_of=tmp)) is not exc:
            raise told from exc
        raise

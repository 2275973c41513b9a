"""Where the project's files live, and atomic file writes: readers see the old file or the new one,
never half of one."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]   # the checkout holding vae/: checkpoints/, data/, runs/ live here


@contextmanager
def atomic_path(path):
    """Yield a temporary path in `path`'s folder; when the block succeeds it replaces `path`,
    when it fails it is removed. The file is made readable by all (mkstemp makes it owner-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

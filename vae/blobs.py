"""Content-addressed files for a web server to hand to browsers: each file is named by the hash of its
bytes, so a name never stands for other bytes and a browser may keep the file for as long as it likes.

The dashboard's plane fetches its decoder weights and test images as such files (app_pages/plane), from
the folder that Streamlit serves at /app/static/. That route sends no Cache-Control, only an ETag and a
Last-Modified date, and answers a conditional request with the whole file again; browsers then keep a
response fresh for a tenth of its age since Last-Modified (RFC 9111, 4.2.2: heuristic freshness). So
every file here carries the same old modification time, FIXED_TIME: a reload or a second tab takes it
from the browser's cache for years, which is right for bytes that cannot change under their name.

The folder holds at most `limit` bytes of such files: writing one removes the least recently published
others beyond that. A file's status-change time (ctime) says when it was last published, since
publishing an existing file sets its times again (os.utime), which the kernel stamps as a change.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

NAME = re.compile(r"[0-9a-f]{32}\.gz")   # the only names made here: 128 bits of SHA-256 and the format
FIXED_TIME = 946_684_800                  # 2000-01-01 00:00 UTC, every file's modification time
FOLDER_LIMIT = 256 * 2**20                # bytes of files kept in a folder


def blob_name(data: bytes) -> str:
    """The name of gzip-compressed `data`'s file: its SHA-256, cut to 32 hex digits, and ".gz"."""
    return hashlib.sha256(data).hexdigest()[:32] + ".gz"


def publish(folder: Path, data: bytes, name: str | None = None, *, limit: int = FOLDER_LIMIT) -> Path:
    """The file `folder`/`name` holding `data` (gzip bytes; `name` is blob_name(data), given when already
    known), written atomically if it is not there yet, marked as published now. Writing a new file
    removes the least recently published others beyond `limit` bytes."""
    name = name or blob_name(data)
    if not NAME.fullmatch(name):
        raise ValueError(f"not a blob name: {name!r}")
    path = Path(folder) / name
    try:
        os.utime(path, (FIXED_TIME, FIXED_TIME))          # there already: published again now (its ctime)
        return path
    except FileNotFoundError:
        pass
    # Atomic (a reader sees the whole file or none) but not synced to disk: a file lost in a power cut
    # is written again by the next page that needs it, and fsync cost seconds on a busy disk.
    Path(folder).mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(part, 0o644)
        os.utime(part, (FIXED_TIME, FIXED_TIME))
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    prune(Path(folder), limit, keep=name)
    return path


def prune(folder: Path, limit: int, *, keep: str) -> list[str]:
    """Remove the least recently published blob files of `folder` (never `keep`, never a file of another
    name) until the rest hold at most `limit` bytes; the names removed. Another process removing the
    same files at the same time is no error."""
    files = []
    for entry in os.scandir(folder):
        if NAME.fullmatch(entry.name) and entry.name != keep:
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_ctime_ns, stat.st_size, entry.name))
    kept = (Path(folder) / keep).stat().st_size + sum(size for _, size, _ in files)
    removed = []
    for _, size, name in sorted(files):
        if kept <= limit:
            break
        (Path(folder) / name).unlink(missing_ok=True)
        kept -= size
        removed.append(name)
    return removed

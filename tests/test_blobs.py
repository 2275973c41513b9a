"""vae.blobs: content-addressed files with a fixed date, in a folder that does not grow without bound."""
import gzip
import hashlib
import os
import time

import pytest

from vae import blobs


def gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def test_a_file_is_named_by_its_bytes_and_dated_in_2000(tmp_path):
    data = gz("weights")
    path = blobs.publish(tmp_path, data)
    assert path == tmp_path / (hashlib.sha256(data).hexdigest()[:32] + ".gz") and path.read_bytes() == data
    assert path.stat().st_mtime == blobs.FIXED_TIME == 946_684_800      # Last-Modified: heuristic freshness of years
    assert blobs.publish(tmp_path, gz("other weights")) != path               # other bytes, another name
    inode = path.stat().st_ino
    assert blobs.publish(tmp_path, data) == path and path.stat().st_ino == inode   # there already: not written again
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, blobs.blob_name(gz("other weights"))])


@pytest.mark.parametrize("name", ["../x.gz", "/etc/passwd", "0" * 31 + ".gz", "0" * 32 + ".gz/..", "A" * 32 + ".gz",
                                  "0" * 32 + ".js", "..", ""])
def test_a_name_that_is_not_a_hash_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="not a blob name"):
        blobs.publish(tmp_path / "blobs", gz("x"), name or "-")
    assert not (tmp_path / "blobs").exists() and not (tmp_path / "x.gz").exists()


def test_the_folder_keeps_the_most_recently_published_files_within_its_limit(tmp_path):
    (tmp_path / ".gitignore").write_text("*\n")                                # not a blob: never removed
    datas = [os.urandom(1000) for _ in range(4)]                               # random bytes: 1000 bytes a file
    for data in datas[:3]:
        blobs.publish(tmp_path, data, limit=3500)
        time.sleep(0.02)                                                       # ctime ticks are coarse
    blobs.publish(tmp_path, datas[0], limit=3500)                              # the oldest is used again
    time.sleep(0.02)
    blobs.publish(tmp_path, datas[3], limit=3500)                              # 4000 bytes: one must go
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {".gitignore"} | {blobs.blob_name(d) for d in (datas[0], datas[2], datas[3])}


def test_a_file_larger_than_the_limit_is_kept_alone(tmp_path):
    small, large = os.urandom(100), os.urandom(5000)
    blobs.publish(tmp_path, small, limit=1000)
    time.sleep(0.02)
    path = blobs.publish(tmp_path, large, limit=1000)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]

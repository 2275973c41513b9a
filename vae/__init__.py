"""VAE Latent Explorer: a variational autoencoder on MNIST (or Fashion-MNIST) and the tools to explore
its latent space.

Importing this package defines things and does nothing else: no downloads, no
device probing, no file access, and never Streamlit.
"""
__version__ = "0.1.0"

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from .model import VAE, ModelConfig, negative_elbo  # noqa: E402
from .train import TrainConfig, Trainer  # noqa: E402

__all__ = ["VAE", "ModelConfig", "TrainConfig", "Trainer", "negative_elbo",
           "load_checkpoint", "save_checkpoint", "CheckpointError", "__version__"]

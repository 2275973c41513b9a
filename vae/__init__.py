"""VAE Latent Explorer: a variational autoencoder on MNIST (or Fashion-MNIST) and the tools to explore
its latent space.

Importing this package defines things and does nothing else: no downloads, no device probing, no file
access, never Streamlit, and not even torch: `vae.VAE`, `vae.load_checkpoint` and the other names below
import their module (and torch, a second or more) when first used, so that `python -m vae --help` and the
modules that need no torch (vae.options, vae.files, vae.datasets) start at once.
"""
__version__ = "0.1.0"

_LAZY = {"CheckpointError": "checkpoint", "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
         "VAE": "model", "ModelConfig": "model", "negative_elbo": "model",
         "TrainConfig": "train", "Trainer": "train"}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    """The names in _LAZY, from their module, imported on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'vae' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value          # later uses are plain attribute reads
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})

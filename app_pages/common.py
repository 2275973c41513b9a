"""What every page shares: the sidebar model picker and the cached model, test set and encodings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

import vae
from vae import catalog, inference
from vae.data import load_mnist


@dataclass(frozen=True)
class Loaded:
    model: vae.VAE
    meta: dict
    key: tuple          # (path, modification time): a retrained file is a new model


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load_model(path: str, modified: float) -> tuple[vae.VAE, dict]:
    """One model per checkpoint file version, in eval mode, shared by every session; never mutated."""
    return vae.load_checkpoint(path)


@st.cache_resource(show_spinner="Reading the MNIST test set…")
def test_set() -> tuple[torch.Tensor, np.ndarray]:
    """The 10,000 MNIST test images (uint8 tensor, read-only) and their labels."""
    images, labels = load_mnist("test")
    return images, labels.numpy()


@st.cache_data(max_entries=8, show_spinner="Encoding the 10,000 test digits…")
def encoded_test_set(_model: vae.VAE, checkpoint_key: tuple) -> np.ndarray:
    """Latent means of the test set (10000, latent_dim), computed once per checkpoint."""
    return inference.encode_dataset(_model, test_set()[0])


@st.cache_data(max_entries=4, show_spinner=False)
def shipped_label(path: str, modified: float) -> catalog.ModelChoice | None:
    return catalog.shipped_choice(Path(path))


def model_choices() -> list[catalog.ModelChoice]:
    shipped = catalog.default_checkpoint()
    first = shipped_label(str(shipped), shipped.stat().st_mtime) if shipped.is_file() else None
    return ([first] if first else []) + catalog.run_choices(catalog.runs_root())


def model_picker() -> None:
    """The sidebar's model menu; the chosen checkpoint path lands in st.session_state.checkpoint."""
    choices = model_choices()
    with st.sidebar:
        if not choices:
            st.session_state.checkpoint = None
            st.info("No model yet. Train one on the Train page, or run `make run` to fetch the default.")
            return
        labels = {str(choice.path): choice.label for choice in choices}
        if st.session_state.get("checkpoint") not in labels:
            st.session_state.checkpoint = next(iter(labels))
        chosen = st.selectbox("Model", options=list(labels), format_func=labels.get, key="checkpoint",
                              help="The shipped model, then your finished or stopped training runs, newest first: "
                                   "name · latent size · epochs · test loss (negative ELBO, nats per image; "
                                   "lower is better).")
        st.caption(labels[chosen])                                  # the menu cuts long labels short


def selected_model() -> Loaded | None:
    """The picked model, or None after telling the user why there is none."""
    path = st.session_state.get("checkpoint")
    if not path:
        st.warning("No model to show yet: train one on the Train page first.")
        return None
    try:
        modified = Path(path).stat().st_mtime
        model, meta = load_model(path, modified)
    except (OSError, vae.CheckpointError) as exc:
        st.error(f"The model could not be opened: {exc}")
        return None
    return Loaded(model, meta, (path, modified))


def plane_dims(latent_dim: int) -> tuple[int, int]:
    """Let the user pick the two latent dimensions to view when there are more than two."""
    if latent_dim == 2:
        return 0, 1
    options = list(range(latent_dim))
    left, right = st.columns(2)
    x = left.selectbox("Horizontal axis: latent dimension", options, index=0, key="dim_x")
    y = right.selectbox("Vertical axis: latent dimension", options, index=1, key="dim_y")
    if x == y:
        st.error("Pick two different dimensions.")
        st.stop()
    st.info(f"This model has {latent_dim} latent dimensions. You see z{x} against z{y}; "
            f"the other {latent_dim - 2} are held at 0 when decoding.")
    return x, y

"""The latent plane as one Streamlit component (st.components.v2): drawing, zoom and decoding run
in the browser, Python keeps the pinned point.

What crosses to the browser, and how often:
- the decoder (vae.webdecoder: layer list + float16 weights), once per checkpoint file version and
  browser tab: the browser reports `have_decoder` and later runs send only its key;
- the MNIST test images, gzip-compressed, once per tab, for the dot under the pointer;
- the 2-D points and labels of the plane on each run (the element is identical across reruns, so
  Streamlit's message cache sends a reference instead).
What comes back: `pin` ({"x", "y"}) when the user clicks, taps, presses an arrow key or clicks a
manifold tile; `have_decoder`, `have_images`; `decoder_failed` with the reason when the weights
cannot run in this browser (the page then decodes the pinned point on the server).
"""
from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

HERE = Path(__file__).parent
STATES = ("pin", "have_decoder", "have_images", "decoder_failed")

_mount = st.components.v2.component(
    "vae_latent_plane",
    css=(HERE / "plane.css").read_text(encoding="utf-8"),
    js=(HERE / "decoder.js").read_text(encoding="utf-8") + "\n" + (HERE / "plane.js").read_text(encoding="utf-8"),
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@st.cache_data(max_entries=8, show_spinner=False)
def decoder_payload(_model, checkpoint_key: tuple) -> dict:
    """{key, layers, weights (base64 float16)} or {key, error} when the browser cannot run this decoder."""
    from vae.webdecoder import UnsupportedDecoder, web_decoder

    try:
        decoder = web_decoder(_model)
    except UnsupportedDecoder as exc:
        return {"key": None, "layers": [], "weights": None, "error": f"this model's decoder cannot run here ({exc})"}
    digest = hashlib.sha256(repr(decoder.layers).encode() + decoder.weights).hexdigest()[:20]
    return {"key": f"decoder-{digest}", "layers": decoder.layers, "weights": _b64(decoder.weights), "error": None}


@st.cache_data(max_entries=16, show_spinner=False)
def points_payload(points: np.ndarray, labels: np.ndarray) -> dict:
    """The plane's dots as base64 little-endian float32 (x, y) pairs and uint8 labels."""
    xy = np.ascontiguousarray(points, dtype="<f4").tobytes()
    labels = np.ascontiguousarray(labels, dtype=np.uint8).tobytes()
    return {"points": _b64(xy), "labels": _b64(labels),
            "points_key": hashlib.sha256(xy + labels).hexdigest()[:20]}


@st.cache_resource(show_spinner=False)
def images_payload(_images, count: int) -> dict:
    """The test images (count, 28, 28) uint8, gzip-compressed and base64-encoded (about 2.2 MB)."""
    raw = np.ascontiguousarray(_images.numpy(), dtype=np.uint8).tobytes()
    return {"images": _b64(gzip.compress(raw, compresslevel=6, mtime=0)),
            "images_key": "mnist-test-" + hashlib.sha256(raw).hexdigest()[:16]}


@dataclass(frozen=True)
class PlaneState:
    pin: tuple[float, float] | None      # what the user pinned in the browser (None: nothing new)
    decoder_failed: str | None           # why the browser cannot decode, if it cannot


def _state(key: str) -> dict:
    """The component's state values from the browser (empty before its first mount)."""
    value = st.session_state.get(key)
    try:
        return {name: value[name] for name in STATES if name in value} if value is not None else {}
    except (TypeError, KeyError):
        return {}


def parse_pin(value) -> tuple[float, float] | None:
    """The browser's {"x": .., "y": ..} as a pair of finite floats, else None."""
    try:
        xy = float(value["x"]), float(value["y"])
    except (TypeError, KeyError, ValueError):
        return None
    return xy if all(np.isfinite(xy)) else None


def latent_plane(*, key: str, model, checkpoint_key: tuple, points: np.ndarray, labels: np.ndarray,
                 images, extent, dims: tuple[int, int], axes: tuple[str, str], pin, pin_serial: int,
                 on_pin, manifold: dict | None = None, mark=None, pin_image: np.ndarray | None = None,
                 interactive: bool = True) -> PlaneState:
    """Mount the plane. `pin` (x, y) is Python's pinned point, applied in the browser whenever
    `pin_serial` changes; `on_pin` runs when the user pins a point there. `manifold` is
    {"n": tiles per side, "spacing": "linear" | "gaussian"} or None. `mark` is a point drawn as a
    red cross (the Reconstruct page's digit). `pin_image` (28, 28) uint8 is the server's decoding
    of the pin, shown when the browser cannot decode."""
    state = _state(key)
    decoder = dict(decoder_payload(model, checkpoint_key))
    if decoder["key"] and not _must_send(key, state, "have_decoder", decoder["key"]):
        decoder["weights"] = None
    images_part = images_payload(images, len(images))
    if not _must_send(key, state, "have_images", images_part["images_key"]):
        images_part = {**images_part, "images": None}
    data = {
        "model": decoder["key"] or f"server-{checkpoint_key[0]}",
        "decoder": decoder, **points_payload(points, labels), **images_part,
        "extent": [float(v) for v in extent], "dims": [int(d) for d in dims], "axes": list(axes),
        "latent_dim": int(model.latent_dim),
        "pin": None if pin is None else [float(pin[0]), float(pin[1])], "pin_serial": int(pin_serial),
        "manifold": manifold, "mark": None if mark is None else [float(mark[0]), float(mark[1])],
        "pin_image": None if pin_image is None else _b64(np.asarray(pin_image, dtype=np.uint8).tobytes()),
        "interactive": interactive,
    }
    callbacks = {f"on_{name}_change": (on_pin if name == "pin" else _ignore) for name in STATES}
    _mount(key=key, data=data, **callbacks)
    failed = state.get("decoder_failed")
    return PlaneState(parse_pin(state.get("pin")), failed if isinstance(failed, str) and failed else None)


def _must_send(key: str, state: dict, name: str, blob: str) -> bool:
    """Send a blob (decoder, images) unless the browser reported holding it, or it went to this
    component in this session and the browser has not said it lacks it (it may still be unpacking it)."""
    if state.get(name) == blob:
        return False
    sent = st.session_state.setdefault("plane_blobs_sent", set())
    if (key, blob) in sent and not (name in state and state[name] is None):
        return False
    sent.add((key, blob))
    return True


def _ignore() -> None:
    """State that only Python's next run reads needs a callback to be accepted; it does nothing."""

"""The latent plane as one Streamlit component (st.components.v2): drawing, zoom and decoding run
in the browser, Python keeps the pinned point.

What crosses to the browser, and how:
- the decoder's layer list over the websocket, and its float16 weights as a file the browser fetches
  over HTTP (see blob_url): gzip-compressed byte planes, named by their hash in static/ beside the
  main script, which Streamlit serves at /app/static/ (`server.enableStaticServing`). The name
  changes with the bytes and the file's date is fixed (vae.blobs), so a second tab or a reload takes it
  from the browser's cache; the files are written when a plane first shows a model or dataset;
- the dataset's test images, for the dot under the pointer, the same way, in files of IMAGES_PER_FILE
  images each, fetched after the decoder, the file of a dot under the pointer first;
- the plane's 2-D points and their labels the same way, one file per model and view (points_payload),
  so that a reload takes them from the cache and the element each rerun builds is small.
What comes back: `pin` ({"x", "y"}) when the user clicks, taps, presses an arrow key or clicks a
manifold tile; `decoder_failed` with the reason when the weights do not arrive or cannot run in this
browser (the page then decodes the pinned point on the server); `view`
("x0,x1,y0,y1", the visible square) while the decoder's map is on, a moment after each zoom or pan,
so that the page computes the map of what is in view; `held` ({"view", "z"}: the view it belongs to
and the plane's origin, D numbers) when a slider of a model with more than two dimensions moved it.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.common import PIN_BOUND  # |x|, |y| of a pin
from app_pages.i18n import _, said
from vae import blobs, web

HERE = Path(__file__).parent
# Streamlit serves the folder `static` beside the main script at /app/static/ (server.enableStaticServing
# in .streamlit/config.toml); the plane's files are written there, and nothing else is.
STATIC = HERE.parents[1] / "static"
IMAGES_PER_FILE = 1000   # test images per file: ~165 kB of MNIST's, so the first dots show their image soon

# The explorer is vae/web's modules (shared with the exported one-file explorer, vae.export); this
# component is its Streamlit host, host.js beside this file.
_mount = st.components.v2.component("vae_latent_plane", css=web.stylesheet(), js=web.bundle(HERE / "host.js"))
WORDS = web.words()      # the plane's own words, {key: (line, English)}: plane_strings translates them


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Blob:
    """A file's bytes and its name (vae.blobs.blob_name)."""
    name: str
    data: bytes


def _blob(data: bytes) -> Blob:
    return Blob(blobs.blob_name(data), data)


def blob_url(blob: Blob) -> str:
    """The URL path that serves `blob`, once it is written in STATIC (publish): /app/static/<name>, under
    the server's base URL path when one is set."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return "/" + "/".join(part for part in (base, "app/static", blob.name) if part)


def publish(files: list[Blob]) -> str | None:
    """Write `files` into STATIC where they are missing (vae.blobs.publish); None, or why they could not be."""
    try:
        for blob in files:
            blobs.publish(STATIC, blob.data, blob.name)
    except OSError as exc:
        return _("the server could not write the file it serves ({error})").format(error=exc.strerror or exc)
    return None


@st.cache_resource(max_entries=8, show_spinner=False)
def decoder_payload(_model, checkpoint_key: tuple) -> tuple[dict, list[Blob]]:
    """({key, layers, url, encoding, error}, [the weights' file]) or ({key None, unsupported: why}, []) when
    the browser cannot run this decoder (latent_plane says why, in the session's language). The weights
    are float16 byte planes, gzip-compressed (vae.webdecoder: weight_planes), 3.1 MB for the shipped MNIST
    model. Callers copy the dict before changing it."""
    from vae.webdecoder import UnsupportedDecoder, web_decoder, weight_planes

    try:
        decoder = web_decoder(_model)
    except UnsupportedDecoder as exc:
        return {"key": None, "layers": [], "url": None, "error": None, "unsupported": exc.args[0]}, []   # a vae message
    weights = _blob(gzip.compress(weight_planes(decoder.weights), compresslevel=9, mtime=0))
    return {"key": decoder.key, "layers": decoder.layers, "url": blob_url(weights), "encoding": "f16-planes-gzip",
            "error": None}, [weights]


def dots_bytes(points: np.ndarray, labels: np.ndarray) -> tuple[bytes, bytes]:
    """The plane's dots as they cross: little-endian float32 (x, y) pairs, and uint8 labels."""
    return np.ascontiguousarray(points, dtype="<f4").tobytes(), np.ascontiguousarray(labels, dtype=np.uint8).tobytes()


@st.cache_data(max_entries=16, show_spinner=False)
def points_payload(points: np.ndarray, labels: np.ndarray) -> tuple[dict, Blob]:
    """The plane's dots as one gzip file: N little-endian float32 (x, y) pairs, then N uint8 labels (90 kB
    for the 10,000 test images, 70 kB compressed), and what the browser needs to fetch it. A file, not
    data in the element: a reload or a second tab takes it from the browser's cache, and the element that
    every rerun builds and hashes (Streamlit then sends a reference when it is unchanged, as on a pin) is
    8 kB instead of 130 kB of base64."""
    xy, labels = dots_bytes(points, labels)
    blob = _blob(gzip.compress(xy + labels, compresslevel=6, mtime=0))
    return {"points_url": blob_url(blob), "points_count": len(labels), "points_key": blob.name[:20]}, blob


def image_files(images: np.ndarray) -> list[Blob]:
    """Test images (N, 28, 28) or (N, 784) uint8 as gzip files of IMAGES_PER_FILE images each, in order."""
    raw = np.ascontiguousarray(images, dtype=np.uint8).reshape(-1, 784)
    return [_blob(gzip.compress(raw[i:i + IMAGES_PER_FILE].tobytes(), compresslevel=6, mtime=0))
            for i in range(0, len(raw), IMAGES_PER_FILE)]


@st.cache_resource(show_spinner=False)
def images_payload(_images, dataset: str) -> tuple[dict, list[Blob]]:
    """A dataset's test images (N, 28, 28) uint8 as files of IMAGES_PER_FILE images each, gzip-compressed
    (1.65 MB in all for MNIST), and what the browser needs to fetch them; computed once per dataset."""
    raw = np.ascontiguousarray(_images.numpy(), dtype=np.uint8).reshape(-1, 784)
    files = image_files(raw)
    return {"images_key": f"{dataset}-test-" + hashlib.sha256(raw.tobytes()).hexdigest()[:16],
            "images_count": len(raw), "images_per_file": IMAGES_PER_FILE,
            "images_files": [blob_url(blob) for blob in files]}, files


# What comes back from the browser is untrusted input: a page's own script sends it, but so may anyone
# who opens a websocket to the server. Every value is checked here, once, before any page reads it.
VIEW_BOUND = 1e4         # |bound| of a reported view (centre within 1e3, half-width at most 1e3)
TEXT_LIMIT = 300         # characters of decoder_failed's reason


def _number(value) -> float | None:
    """A JSON number as a finite float, else None (bools, strings, lists and 1e309 are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:                                  # an int past the float range
        return None
    return number if math.isfinite(number) else None


def parse_pin(value) -> tuple[float, float] | None:
    """The browser's {"x": .., "y": ..} as a pair of finite floats within ±PIN_BOUND, else None."""
    if not isinstance(value, dict):
        return None
    xy = _number(value.get("x")), _number(value.get("y"))
    return xy if all(v is not None and abs(v) <= PIN_BOUND for v in xy) else None


def parse_view(value) -> tuple[float, float, float, float] | None:
    """The browser's "x0,x1,y0,y1" as four finite floats within ±VIEW_BOUND, spanning 0.002 to 2000
    each way; else None."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        x0, x1, y0, y1 = (float(v) for v in value.split(","))
    except ValueError:                                     # not four numbers
        return None
    if not all(math.isfinite(v) and abs(v) <= VIEW_BOUND for v in (x0, x1, y0, y1)):
        return None
    return (x0, x1, y0, y1) if 2e-3 <= x1 - x0 <= 2e3 and 2e-3 <= y1 - y0 <= 2e3 else None


def _reason(value) -> str | None:
    """decoder_failed's reason as plain text of at most TEXT_LIMIT characters; None when empty or not text."""
    if not isinstance(value, str):
        return None
    text = " ".join("".join(c for c in value[:TEXT_LIMIT * 4] if c.isprintable()).split())[:TEXT_LIMIT]
    return text or None


HELD_LIMIT = 4096        # latent dimensions a reported origin may have


def parse_held(value) -> dict | None:
    """The browser's {"view": .., "z": [..]} (a slider moved the plane's origin) as {"view": str, "z":
    tuple of floats}: the view's key as the payload named it (at most 500 characters) and 3 to HELD_LIMIT
    finite numbers within ±PIN_BOUND; else None."""
    if not isinstance(value, dict) or not isinstance(value.get("view"), str) or len(value["view"]) > 500:
        return None
    z = value.get("z")
    if not isinstance(z, list) or not 3 <= len(z) <= HELD_LIMIT:
        return None
    numbers = tuple(_number(v) for v in z)
    if not all(v is not None and abs(v) <= PIN_BOUND for v in numbers):
        return None
    return {"view": value["view"], "z": numbers}


_CHECKS = {"pin": parse_pin, "decoder_failed": _reason, "view": parse_view, "held": parse_held}
STATES = tuple(_CHECKS)


def validate_state(raw) -> dict:
    """The browser's state `raw` with only the known keys whose values pass their check, each in its
    checked form: pin (x, y), view (x0, x1, y0, y1), decoder_failed str. Anything
    else (a missing key, a string pin, 1e308, NaN, a list nested 10,000 deep, a state that is no mapping)
    is left out: never an exception, and nothing is walked but the known keys; held {"view", "z"}."""
    if not isinstance(raw, Mapping):
        return {}
    state = {}
    for name, check in _CHECKS.items():
        try:
            value = check(raw.get(name))
        except Exception:                                  # noqa: BLE001  whatever a forged value does
            value = None
        if value is not None:
            state[name] = value
    return state


def browser_state(key: str) -> dict:
    """The validated state (validate_state) of plane `key` from the browser; empty before its first
    mount or when the state cannot be read at all."""
    try:
        raw = st.session_state.get(key)
    except Exception:                                      # noqa: BLE001  e.g. unreadable JSON
        return {}
    return validate_state(raw)



STATE_DEPTH = 32         # nesting a component's state from the browser may have (the plane's has 2)


def _nested_deeper_than(value, limit: int) -> bool:
    """Whether the JSON value `value` nests lists and objects more than `limit` deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _guard_state_json() -> None:
    """Streamlit 1.67 parses a component's state from the browser with json.loads and lets its errors
    escape (streamlit.runtime.state.common.unpack_widget_state_value, and handle_deserialize for the
    triggers): text that is not JSON, or a list nested deeper than Python's recursion limit, fails
    that run and every later run of the session, before any page code could refuse it. Such a state,
    or one nested more than STATE_DEPTH deep, is read as no state (the component's own deserializer
    makes that {}). Installed once per process, when the first page with a plane imports this module,
    which is before any plane exists to send a state."""
    from streamlit.runtime.state import session_state as module

    unpack = module.unpack_widget_state_value
    if getattr(unpack, "vae_guarded", False):
        return

    def guarded(widget_state):
        field = widget_state.WhichOneof("value")
        if field not in ("json_value", "json_trigger_value"):
            return unpack(widget_state)
        try:
            parsed = json.loads(getattr(widget_state, field))
        except (ValueError, RecursionError):               # JSONDecodeError is a ValueError
            return None
        if _nested_deeper_than(parsed, STATE_DEPTH):
            return None
        return parsed if field == "json_value" else unpack(widget_state)

    guarded.vae_guarded = True
    module.unpack_widget_state_value = guarded


_guard_state_json()


def decoder_failed(key: str) -> str | None:
    """Why the browser showing plane `key` cannot decode, if it said so (plain text, at most 300
    characters); else None."""
    return browser_state(key).get("decoder_failed")


def visible_square(key: str) -> tuple[float, float, float, float] | None:
    """The square (x0, x1, y0, y1) the browser showing plane `key` last reported (it does while the
    decoder's map is on), if it is four finite numbers spanning 0.002 to 2000; else None."""
    return browser_state(key).get("view")


def opening_view(key: str, view_key: tuple, extent) -> str:
    """The view ("cx,cy,half"; "" for the whole plane) that plane `key`, showing `view_key`, opens on
    when it is drawn anew (a page change, a reload): the session's last view of it (track_view), else
    the session's first link's ?view=, which is read here (a bad one is said, and dropped)."""
    from app_pages.common import escape_markdown, link_warning
    from app_pages.state import first_visit_param, known_view, parse_view, remember_view, view_text

    wanted, bad = first_visit_param("view"), None
    if wanted is not None:
        parsed = parse_view(wanted)
        if parsed is None:
            bad = _("The link's view “{view}” is not three numbers in range; showing the whole plane.").format(
                view=escape_markdown(wanted[:60]))
        remember_view(view_key, parsed)
    link_warning("view", view_key, bad)
    track_view(key, view_key, extent)
    view = known_view(view_key)
    return "" if view is None else view_text(view)


def track_view(key: str, view_key: tuple, extent) -> None:
    """Keep the view that the browser showing plane `key` last reported as `view_key`'s, and put it in
    the URL unless it is the whole plane (home_square of `extent`). A report is taken only when it
    differs from the last one: right after a model or view change the state still holds the previous
    plane's square."""
    from app_pages.state import known_view, publish, remember_view, view_text

    square = visible_square(key)
    if square is not None and square != st.session_state.get("last_square"):
        st.session_state.last_square = square
        x0, x1, y0, y1 = square
        remember_view(view_key, ((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2))
    view, home = known_view(view_key), home_square(extent)
    whole = view is None or np.allclose([view[0] - view[2], view[0] + view[2], view[1] - view[2], view[1] + view[2]],
                                        home, rtol=0, atol=1e-3 * (home[1] - home[0]))
    publish(view=None if whole else view_text(view))


def home_square(extent) -> tuple[float, float, float, float]:
    """The square the plane shows before any zoom (plane.js homeView): centred on `extent`, as wide as its
    longer side."""
    x0, x1, y0, y1 = (float(v) for v in extent)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    return cx - half, cx + half, cy - half, cy + half


def snap_square(square) -> tuple[float, float, float, float]:
    """`square` (x0, x1, y0, y1) with its bounds rounded to a 200th of its scale (a power of ten), so
    that views a hair apart share one cached map."""
    x0, x1, y0, y1 = (float(v) for v in square)
    step = 10.0 ** np.floor(np.log10(max(x1 - x0, y1 - y0))) / 200
    return tuple(round(float(np.round(v / step) * step), 10) for v in (x0, x1, y0, y1))


@st.cache_data(max_entries=64, show_spinner=False)
def decoder_map_payload(_model, _classifier, _basis, checkpoint_key: tuple, view_key: tuple, square: tuple,
                        n: int, class_names: tuple) -> dict:
    """The decoder's map of `square` for the browser: per cell of an n×n lattice (row 0 at the top) the
    class the classifier reads in the decoding (uint8) and its confidence (uint8, 255 = 1), base64; and
    the share of the square read with at least 0.9 confidence. Cached per model, view and square."""
    from vae import inference
    from vae.classifier import fused_for_inference

    classes, confidence = inference.decoder_map(_model, fused_for_inference(_classifier), _basis, square, n)
    key = hashlib.sha256(repr((checkpoint_key, view_key, square, n)).encode()).hexdigest()[:16]
    return {"key": key, "n": n, "extent": list(square), "names": list(class_names),
            "classes": _b64(classes.astype(np.uint8).tobytes()),
            "confidence": _b64(np.round(confidence * 255).astype(np.uint8).tobytes()),
            "share": inference.confident_share(confidence, 0.9)}


@dataclass(frozen=True)
class PlaneData:
    """What the plane shows: `points` (N, 2) in the plane's coordinates and their `labels`, the
    dataset's test `images` (N, 28, 28) for the dot under the pointer, the `extent` (x0, x1, y0, y1) it
    opens on, and the `dataset` (vae.datasets.Dataset, MNIST when None) that names the classes of
    `labels` and what one example is."""
    points: np.ndarray
    labels: np.ndarray
    images: object
    extent: tuple
    dataset: object = None


def _no_pin() -> None:
    """A plane that takes no pins (a replay) calls this when the user pins a point anyway."""


@dataclass(frozen=True)
class PlanePin:
    """Python's pinned point `at` (x, y), or None, applied in the browser whenever `serial` changes;
    `on_pin` runs when the user pins a point there (see app_pages.common.pin_from); `image` (28, 28)
    uint8 is the server's decoding of the pin, shown when the browser cannot decode."""
    at: tuple | None = None
    serial: int = 0
    on_pin: Callable[[], None] = _no_pin
    image: np.ndarray | None = None


@dataclass(frozen=True)
class PlaneExtras:
    """What may be drawn over and under the dots, all in the plane's coordinates. `manifold` is
    {"n": tiles per side, "spacing": "linear" | "gaussian"}. `overlays` may hold "points" [[x, y], …]
    (samples, drawn as diamonds), "path" [[x, y], …] (an interpolation, A to B) and "ellipse"
    {"x", "y", "rx", "ry"} (a posterior's mean ± 2σ). `mark` is a point drawn as a red cross (the
    Reconstruct page's digit). `decoder_map` (see decoder_map_payload) is drawn under the dots, over its
    own extent. `frames` {"key", "labels": [...], "points": [(N, 2) arrays]} turns the plane into a
    replay with a slider and a play button. `sliders` {"kl": [nats per dimension]} gives a model with more
    than two latent dimensions a slider per dimension and its traversal (vae/web/sliders.js)."""
    manifold: dict | None = None
    overlays: dict | None = None
    mark: tuple | None = None
    decoder_map: dict | None = None
    frames: dict | None = None
    sliders: dict | None = None


def latent_plane(*, key: str, model, checkpoint_key: tuple, view, data: PlaneData, pin: PlanePin = PlanePin(),
                 extras: PlaneExtras = PlaneExtras(), interactive: bool = True, shown: str | None = None) -> None:
    """Mount the plane of `view` (app_pages.common.PlaneView: the browser decodes the plane's point
    (x, y) at origin + x·u + y·v) showing `data`, with `pin` and `extras`. `model` None leaves the
    decoder out (a replay's early planes had other decoders); `interactive=False` takes no pins."""
    from app_pages.common import class_names
    from vae.datasets import MNIST

    points, labels, images, extent = data.points, data.labels, data.images, data.extent
    dataset = data.dataset or MNIST
    manifold, overlays, mark, decoder_map, frames = (extras.manifold, extras.overlays, extras.mark,
                                                     extras.decoder_map, extras.frames)
    pin_at, pin_serial, on_pin, pin_image = pin.at, pin.serial, pin.on_pin, pin.image
    if model is not None:
        decoder, weights = decoder_payload(model, checkpoint_key)
        decoder = dict(decoder)
        if "unsupported" in decoder:
            decoder["error"] = _("this model's decoder cannot run here ({reason})").format(
                reason=said(decoder.pop("unsupported")))
    else:
        decoder, weights = {"key": None, "layers": [], "url": None, "error": None, "off": True}, []
    images_part, image_files = images_payload(images, dataset.name)
    points_part, points_file = points_payload(points, labels)
    unwritten = publish([*weights, points_file, *image_files])
    if unwritten and decoder["key"]:
        decoder["error"] = unwritten
    if unwritten:                                          # the dots at least, in the element itself
        xy, label_bytes = dots_bytes(points, labels)
        points_part = {"points": _b64(xy), "labels": _b64(label_bytes), "points_key": points_part["points_key"]}
    payload = {
        "model": decoder["key"] or f"server-{checkpoint_key[0]}" + ("-replay" if frames else ""),
        "decoder": decoder, **points_part, **images_part,
        "extent": [float(v) for v in extent], "view_key": repr(view.key), "axes": list(view.axes),
        "basis": {name: [float(v) for v in getattr(view.basis, name)] for name in ("origin", "u", "v")},
        "latent_dim": len(view.basis.origin),
        "pin": None if pin_at is None else [float(pin_at[0]), float(pin_at[1])], "pin_serial": int(pin_serial),
        "manifold": manifold, "mark": None if mark is None else [float(mark[0]), float(mark[1])],
        "pin_image": None if pin_image is None else _b64(np.asarray(pin_image, dtype=np.uint8).tobytes()),
        "interactive": interactive, "overlays": _plain_overlays(overlays),
        "frames": None if frames is None else _frames_payload(frames["key"], tuple(frames["labels"]),
                                                              frames["points"]),
        "decoder_map": decoder_map, "sliders": extras.sliders, "class_names": list(class_names(dataset)), "item": dataset.item,
        "strings": plane_strings(), "theme": _theme(), "view": shown, "report_view": shown is not None or decoder_map is not None,
    }
    callbacks = {f"on_{name}_change": (on_pin if name == "pin" else _ignore) for name in STATES}
    _mount(key=key, data=payload, **callbacks)


def plane_strings() -> dict[str, str]:
    """The plane's own words (vae/web/words.js: its keys and English) in the session's language."""
    return {key: _(english) for key, (_line, english) in WORDS.items()}


@st.cache_data(max_entries=4, show_spinner=False)
def _frames_payload(frames_key: str, labels: tuple, _points: list) -> dict:
    """A replay's frames as base64 float16, encoded once per replay (its key names its version), not
    on every rerun of a page that refreshes each second while the run trains."""
    return {"key": frames_key, "labels": list(labels),
            "points": [_b64(np.ascontiguousarray(p, dtype="<f2").tobytes()) for p in _points]}


def _plain_overlays(overlays: dict | None) -> dict | None:
    """Overlays as JSON numbers (numpy floats are not JSON)."""
    if not overlays:
        return None
    out = {}
    for name in ("points", "path"):
        if overlays.get(name) is not None:
            out[name] = [[float(x), float(y)] for x, y in np.asarray(overlays[name], dtype=float).reshape(-1, 2)]
    if overlays.get("ellipse"):
        out["ellipse"] = {k: float(v) for k, v in overlays["ellipse"].items()}
    return out


def _ignore() -> None:
    """State that only Python's next run reads needs a callback to be accepted; it does nothing."""


def _theme() -> str | None:
    """Streamlit's theme ("light" or "dark") as the browser reports it, so the plane follows it."""
    theme = getattr(getattr(st.context, "theme", None), "type", None)
    return theme if theme in ("light", "dark") else None

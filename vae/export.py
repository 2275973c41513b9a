"""A model's latent plane as one self-contained HTML file: `python -m vae export-html CKPT OUT.html`.

The file needs no server, no network and no other file: it opens from file://, a USB stick or a
course's web page. It holds the explorer's front end (vae/web, the same modules as the dashboard's
plane), the decoder's weights, the encoded test set and the test images, and the model's facts.

What each part costs, and how it is packed:
- the decoder: float16 weights (the dashboard's), split into a plane of low bytes and one of high
  bytes and zlib-deflated (the high bytes, sign and exponent, shrink by about a quarter);
- the test images: one sprite of 32-pixel tiles (each 28×28 image in a corner), lossless WebP when it
  fits `thumbnail_budget`, else the best lossy WebP quality that does;
- the dots: float32 (x, y) and a uint8 label each.
Binary parts travel as text of 15 bits a character (code points U+4000 to U+BFFF) in a UTF-16 file,
which costs a fifteenth more than the bytes, where base64 in UTF-8 costs a third.

The file speaks English unless its maker passes other words: the plane's (vae/web/words.js's keys, as the
dashboard sends them) and the page's own (PAGE_WORDS), the class names and the language's tag. The dashboard
passes its session's (app_pages/explore.py: explorer_words), so a file downloaded in Chinese is in Chinese.
"""
from __future__ import annotations

import hashlib
import html
import io
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__, web
from .checkpoint import CheckpointError, load_checkpoint
from .datasets import Dataset, dataset_of
from .files import atomic_path
from .messages import N_, say

TEXT15_BASE = 0x4000                      # bytes.js: text15Bytes
SPRITE_COLUMNS, SPRITE_PITCH = 100, 32    # tiles per row; pixels from one tile's corner to the next
THUMBNAIL_BUDGET = 1_600_000              # bytes for the test images' sprite
MANIFOLD = {"n": 20, "spacing": "linear"}
# The page's own words around the plane (standalone.html, standalone.js), in English; `strings` may give them
# in another language under the same keys. A word is {name} where a value goes in (str.format's way).
PAGE_WORDS = {
    "title": N_("{name}: latent plane"),
    "heading": N_("Latent plane"),
    "noscript": N_("This explorer runs in the browser: turn JavaScript on to open it."),
    "too_old": N_("This browser is too old for this explorer: open it in a current Chrome, Edge, Firefox or Safari."),
    "lacks": N_("This browser lacks {feature}, which this explorer needs: open it in a current Chrome, Edge, "
                "Firefox or Safari."),
    "spacing": N_("Manifold spacing"),
    "spacing_linear": N_("even in z"),
    "spacing_gaussian": N_("even in probability (inverse CDF)"),
    "tiles": N_("Images per side"),
    "theme": N_("Theme"),
    "theme_auto": N_("as the system"),
    "theme_light": N_("light"),
    "theme_dark": N_("dark"),
    "facts": N_("{dataset} · {latent_dim} latent dimensions · {elbo}"),
    "elbo": N_("test −ELBO {value} nats"),
    "no_elbo": N_("test −ELBO not recorded"),
    "foot": N_("The address keeps the pinned point and the view: copy it to share this exact view."),
    "exported": N_("Exported by VAE Latent Explorer {version}; test images as {images}."),
}


@dataclass(frozen=True)
class Explorer:
    """An exported explorer: the file's bytes, and what each part of it costs in the file."""
    content: bytes
    parts: dict = field(default_factory=dict)          # part name -> bytes in the file
    thumbnails: str = ""                               # how the test images are stored, in words


def text15(data: bytes) -> bytes:
    """`data` as UTF-16-LE characters of 15 bits each, first bit first (bytes.js reads it back)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    bits = np.concatenate([bits, np.zeros(-len(bits) % 15, dtype=np.uint8)]).reshape(-1, 15)
    codes = bits.astype(np.uint16) @ (1 << np.arange(14, -1, -1, dtype=np.uint16))
    return (codes + TEXT15_BASE).astype("<u2").tobytes()


def packed_weights(weights: bytes) -> bytes:
    """float16 bytes -> their low-byte plane then high-byte plane, zlib-deflated (decoder.js: decoderWeights)."""
    from .webdecoder import weight_planes

    return zlib.compress(weight_planes(weights), 9)


def thumbnail_sprite(images: np.ndarray, budget: int = THUMBNAIL_BUDGET) -> tuple[bytes, str]:
    """The images (N, 28, 28) uint8 as one WebP sprite and how it was stored: lossless when that fits
    `budget` bytes, else the highest lossy quality that does. The quality is found by bisection on the
    first tenth of the rows (the size grows with the rows), then checked, and lowered, on the whole."""
    from PIL import Image

    count = len(images)
    rows = math.ceil(count / SPRITE_COLUMNS)
    tiles = np.zeros((rows * SPRITE_COLUMNS, SPRITE_PITCH, SPRITE_PITCH), dtype=np.uint8)
    tiles[:count, :28, :28] = images
    sheet = (tiles.reshape(rows, SPRITE_COLUMNS, SPRITE_PITCH, SPRITE_PITCH).transpose(0, 2, 1, 3)
             .reshape(rows * SPRITE_PITCH, SPRITE_COLUMNS * SPRITE_PITCH))

    def webp(pixels: np.ndarray, **options) -> bytes:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "WEBP", method=4, **options)
        return out.getvalue()

    sample_rows = max(1, rows // 10)
    sample, share = sheet[: sample_rows * SPRITE_PITCH], sample_rows / rows
    if len(webp(sample, lossless=True)) <= 1.1 * budget * share:      # else a whole lossless sprite is no use
        lossless = webp(sheet, lossless=True)
        if len(lossless) <= budget:
            return lossless, "lossless WebP"
    low, high, quality = 10, 95, 10
    while low <= high:
        middle = (low + high) // 2
        if len(webp(sample, quality=middle)) <= budget * share:
            quality, low = middle, middle + 1
        else:
            high = middle - 1
    while True:
        encoded = webp(sheet, quality=quality)
        if len(encoded) <= budget or quality <= 10:
            return encoded, f"WebP quality {quality}"
        quality = max(10, quality - 3)


def explorer_html(model, meta: dict, *, name: str, images, labels, points, basis, axes, note: str | None,
                  dataset: Dataset, thumbnail_budget: int = THUMBNAIL_BUDGET, strings: dict | None = None,
                  class_names=None, lang: str = "en") -> Explorer:
    """The explorer of `model` on the plane `basis` (vae.inference.PlaneBasis) as one HTML file.
    `images` (N, 28, 28) uint8 and `labels` (N,) are the test set the dots stand for, `points` (N, 2)
    their encodings on the plane. Raises CheckpointError when the browser cannot run this decoder.
    In English, unless `strings` ({key: text} for vae/web/words.js's keys and PAGE_WORDS's), `class_names`
    and `lang` (the page's language tag) say otherwise; a key `strings` lacks keeps its English."""
    from .inference import plane_extent
    from .webdecoder import UnsupportedDecoder, web_decoder

    try:
        decoder = web_decoder(model)
    except UnsupportedDecoder as exc:
        raise CheckpointError(say(N_("{name}: cannot be exported: {error}"), name=name, error=str(exc))) from None
    images = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(labels, dtype=np.uint8)
    sprite, stored = thumbnail_sprite(images, thumbnail_budget)
    xy = np.ascontiguousarray(points, dtype="<f4").tobytes()
    blobs = {"weights": packed_weights(decoder.weights), "images": sprite, "points": xy, "labels": labels.tobytes()}
    metrics = meta.get("test_metrics") or {}
    neg_elbo = metrics.get("neg_elbo") if isinstance(metrics, dict) else None
    data = {
        "model": decoder.key,
        "decoder": {"key": decoder.key, "layers": decoder.layers, "weights": {"blob": "weights"},
                    "encoding": "f16-planes-deflate", "error": None, "served": 0},
        "points": {"blob": "points"}, "labels": {"blob": "labels"},
        "points_key": hashlib.sha256(xy + labels.tobytes()).hexdigest()[:20],
        "images": {"blob": "images"}, "images_key": f"{dataset.name}-test-" + hashlib.sha256(images.tobytes()).hexdigest()[:16],
        "images_format": "sprite",
        "images_sprite": {"columns": SPRITE_COLUMNS, "pitch": SPRITE_PITCH, "count": len(images), "mime": "image/webp"},
        "extent": list(plane_extent(points)), "view_key": repr(("export", axes)), "axes": list(axes),
        "basis": {k: [float(v) for v in getattr(basis, k)] for k in ("origin", "u", "v")},
        "latent_dim": model.latent_dim, "pin": None, "pin_serial": 0, "manifold": dict(MANIFOLD),
        "mark": None, "pin_image": None, "interactive": True, "overlays": None, "frames": None,
        "decoder_map": None, "sliders": _sliders(model, images),
        "class_names": list(class_names or dataset.class_names), "item": dataset.item,
        "strings": {key: text for key, text in (strings or {}).items() if key not in PAGE_WORDS},
        "page": page_words(strings),
        "header": {"name": name, "dataset": dataset.title, "latent_dim": model.latent_dim,
                   "neg_elbo": neg_elbo if isinstance(neg_elbo, (int, float)) and math.isfinite(neg_elbo) else None,
                   "note": note, "version": __version__, "images": stored},
    }
    return _page(name, data, blobs, stored, lang)


def _sliders(model, images: np.ndarray) -> dict | None:
    """One slider per latent dimension (vae/web/sliders.js) for a model with more than two, with each one's KL
    on the test set; None for a 2-D model."""
    import torch

    from .inference import dimension_kl

    if model.latent_dim <= 2:
        return None
    return {"kl": [float(v) for v in dimension_kl(model, torch.as_tensor(images))]}


def page_words(strings: dict | None = None) -> dict[str, str]:
    """PAGE_WORDS, each as `strings` gives it when it does (a text with the same {names}), else in English."""
    import string

    def fields(text: str) -> set:
        return {field for _literal, field, _spec, _conversion in string.Formatter().parse(text) if field is not None}

    given = strings or {}
    return {key: given[key] if isinstance(given.get(key), str) and fields(given[key]) == fields(english) else english
            for key, english in PAGE_WORDS.items()}


def _page(name: str, data: dict, blobs: dict, stored: str, lang: str = "en") -> Explorer:
    """The HTML file, UTF-16-LE with its byte order mark (so a browser reads it as UTF-16 even where a
    server says otherwise), and the bytes of each part."""
    template = (web.HERE / "standalone.html").read_text(encoding="utf-8")
    words = data["page"]
    # JSON inside <script>: "<" escaped so no text (a model's name, a translation) can close the element.
    text = {"title": html.escape(words["title"].format(name=name)), "css": web.stylesheet(),
            "data": json.dumps(data, ensure_ascii=False, allow_nan=False).replace("<", "\\u003c"),
            "script": web.bundle("standalone.js"), "lang": html.escape(lang, quote=True),
            "too_old": json.dumps(words["too_old"], ensure_ascii=False).replace("<", "\\u003c"),
            **{key: html.escape(words[key]) for key in ("heading", "noscript", "spacing", "spacing_linear",
                                                        "spacing_gaussian", "tiles", "theme", "theme_auto",
                                                        "theme_light", "theme_dark", "foot")}}
    before, _, after = template.partition("{blobs}")
    head, tail = before.format(**text), after.format(**text)
    parts, chunks = {}, ["\ufeff" + head]
    out = [chunks[0].encode("utf-16-le")]
    for key, blob in blobs.items():
        opening = f'<script type="text/plain" id="blob-{key}" data-length="{len(blob)}">'
        encoded = opening.encode("utf-16-le") + text15(blob) + "</script>\n".encode("utf-16-le")
        parts[key] = len(encoded)
        out.append(encoded)
    out.append(tail.encode("utf-16-le"))
    content = b"".join(out)
    parts["page and code"] = len(content) - sum(parts.values())
    return Explorer(content, parts, stored)


def export_html(checkpoint, out, *, dims: str = "0,1", hold: int | None = None, data_root=None,
                thumbnail_budget: int = THUMBNAIL_BUDGET, **words) -> Explorer:
    """Write the explorer of the checkpoint at `checkpoint` to `out` (whole or not at all). `dims` is
    "i,j" (two latent dimensions, the others at 0 or at test image #`hold`'s code) or "pca". `words`:
    explorer_html's strings, class_names and lang (English by default)."""
    from .data import load_dataset
    from .inference import chosen_plane, encode_dataset

    checkpoint = Path(checkpoint)
    model, meta = load_checkpoint(checkpoint)
    dataset = dataset_of(meta)
    images, labels = load_dataset("test", data_root, dataset=dataset)
    choice = _view_choice(dims, hold, model.latent_dim, len(images))
    encodings = encode_dataset(model, images)                               # (N, latent_dim)
    basis, axes, note = chosen_plane(model.latent_dim, choice, encodings)
    name = checkpoint.parent.name if checkpoint.stem == "checkpoint" else checkpoint.stem   # a run's, or the file's
    explorer = explorer_html(model, meta, name=name, images=images.numpy(), labels=labels.numpy(),
                             points=basis.to_plane(encodings), basis=basis, axes=axes, note=note, dataset=dataset,
                             thumbnail_budget=thumbnail_budget, **words)
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(explorer.content)
    return explorer


def _view_choice(dims: str, hold: int | None, latent_dim: int, count: int) -> tuple:
    """("pca",) or ("dims", (i, j), hold) from the command's words; ValueError saying what is wrong."""
    if dims == "pca":
        if latent_dim < 3:
            raise ValueError("--dims pca needs a model with more than two latent dimensions")
        return ("pca",)
    try:
        i, j = (int(v) for v in dims.split(","))
    except ValueError:
        raise ValueError(f"--dims must be two latent dimensions such as 0,1, or pca; got {dims!r}") from None
    if not (0 <= i < latent_dim and 0 <= j < latent_dim) or i == j:
        raise ValueError(f"--dims {dims}: pick two different dimensions of this model's {latent_dim} (0 to {latent_dim - 1})")
    if hold is not None and not 0 <= hold < count:
        raise ValueError(f"--hold {hold}: pick a test image from 0 to {count - 1}")
    return ("dims", (i, j), hold)

"""Turn an uploaded or drawn picture of a digit into a 28×28 MNIST-style input.

MNIST digits are white ink on black, cropped to the ink, scaled to fit a 20×20
box keeping their aspect ratio, and placed in a 28×28 field so that their
centre of mass is at the centre. `mnist_digit` does the same to any picture;
`read_upload` first decodes the uploaded bytes and turns every way a file can
be unusable into an `ImageError` whose message a person can act on.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .messages import N_, say

MAX_PIXELS = 150_000_000     # larger images are refused (a decompression bomb is tiny on disk); a 108 MP photo fits
WORKING_SIDE = 1024          # pictures are shrunk to this as they are read; the digit ends up 20 px anyway
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")       # the only decoders an upload reaches
BIG_PIXELS = 8_000_000       # decoding a picture larger than this at full size waits for a free slot:
_BIG_DECODES = threading.BoundedSemaphore(2)          # at most two such decodes at once, whatever the sessions
BAND_BYTES = 8_000_000       # a large PNG is decoded this many bytes of rows at a time (see _png_by_bands)
BOX, FIELD = 20, 28          # MNIST: the digit fits a 20×20 box inside the 28×28 field
NOISE_FLOOR = 0.5            # fraction of the Otsu threshold below which a pixel is background


class ImageError(ValueError):
    """The upload cannot be used; the message says why in plain words."""


@dataclass
class Upload:
    image: Image.Image       # the picture as uploaded (first frame), upright, RGB or RGBA
    animated: bool           # the file held several frames and only the first is used


def read_upload(data: bytes) -> Upload:
    """Decode an uploaded file (PNG, JPEG, GIF, BMP or WebP, nothing else) into a picture at most
    WORKING_SIDE pixels on a side, or raise ImageError.

    Memory stays bounded whatever the size: JPEGs are decoded at a reduced scale (draft mode), large
    PNGs a band of rows at a time, each band shrunk before the next is decoded, and other large pictures
    decode one or two at a time across all sessions, then shrink at once."""
    if not data:
        raise ImageError(say(N_("The file is empty.")))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # MAX_PIXELS decides
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(say(N_("The image is {width}×{height} pixels, too large to open safely (the limit "
                                        "is {limit} megapixels)."), width=width, height=height,
                                     limit=MAX_PIXELS // 1_000_000))
            if width < 1 or height < 1:
                raise ImageError(say(N_("The image has no pixels.")))
            animated = getattr(image, "n_frames", 1) > 1
            image.seek(0)
            if image.format == "JPEG":
                image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))      # decode at 1/2, 1/4 or 1/8 scale
            big = image.size[0] * image.size[1] > BIG_PIXELS
            with _BIG_DECODES if big else contextlib.nullcontext():
                banded = _png_by_bands(image, data) if big and not animated else None
                if banded is None:
                    image.load()
                image = _shrunk(banded or image)
            if big:
                _return_freed_memory()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(say(N_("The image declares a huge size, too large to open safely (a possible "
                                "decompression bomb)."))) from None
    except UnidentifiedImageError:
        raise ImageError(say(N_("This file is not an image that can be read. Upload a PNG, JPEG, GIF, BMP "
                                "or WebP picture."))) from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(say(N_("The image file is damaged or cut off (truncated) and cannot be read."))) from None
    image = ImageOps.exif_transpose(image)          # phone photos store their rotation in EXIF
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return Upload(image.convert("RGBA" if has_alpha else "RGB"), animated)


def _return_freed_memory() -> None:
    """Hand the full-size decode's freed memory back to the system (glibc keeps it otherwise: 8
    sessions' 50 MP uploads left the server 0.5 GB larger for good)."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass                                            # not glibc: nothing to do


def _png_by_bands(image: Image.Image, data: bytes) -> Image.Image | None:
    """A large non-interlaced 8-bit PNG (`image`, opened from `data`, not loaded) read a band of rows at a
    time, each band box-averaged by the whole factor k that keeps the picture at least WORKING_SIDE on its
    longer side, as a JPEG's draft mode reads: what is held is one band, not the full-size picture (a
    150 MP RGBA PNG is 600 MB decoded, and a palette one became 450 MB more as RGB before shrinking).
    None when the file is of another kind: it is then decoded whole.

    The rows are inflated here and each band is handed to Pillow's own PNG row decoder (unfiltering) as a
    stored zlib stream, after the previous band's last row, unfiltered, which its first row may refer to."""
    mode, (width, height) = image.mode, image.size
    tile = image.tile[0] if len(image.tile) == 1 else None
    if (image.format != "PNG" or image.info.get("interlace") or mode not in ("L", "LA", "RGB", "RGBA", "P")
            or tile is None or tile.codec_name != "zip" or tile.args != mode or tile.extents != (0, 0, width, height)):
        return None                                      # 16-bit, fewer than 8 bits, interlaced, APNG frames
    factor = max(1, max(width, height) // WORKING_SIDE)
    stride = 1 + width * len(mode)                       # a filter-type byte, then the row's samples
    rows = max(1, BAND_BYTES // stride // factor) * factor
    keyed = "transparency" in image.info
    target = "RGBA" if keyed else ("RGB" if mode == "P" else mode)
    shrunk = Image.new(target, (-(-width // factor), -(-height // factor)))
    chunks, inflate, pending, tail, prior = _png_chunks(data), zlib.decompressobj(), bytearray(), b"", b""
    extra = {}
    for top in range(0, height, rows):
        want = min(rows, height - top) * stride
        while len(pending) < want:
            if not tail:                                 # what zlib still holds of the input it has read, first
                pending += inflate.decompress(b"", want - len(pending))
                if len(pending) >= want:
                    break
                tail = next((data[at:at + length] for name, at, length in chunks if name == b"IDAT"), None)
                if tail is None or inflate.eof:
                    raise EOFError("the image data ends early")
            pending += inflate.decompress(tail, want - len(pending))
            tail = inflate.unconsumed_tail
        band_data = prior + pending[:want]
        del pending[:want]
        above = 1 if prior else 0
        band = Image.frombytes(mode, (width, len(band_data) // stride), zlib.compress(band_data, 0), "zip", mode)
        prior = b"\0" + band.crop((0, band.height - 1, width, band.height)).tobytes()   # unfiltered (type 0)
        if mode == "P":
            band.putpalette(image.palette)
        if keyed:
            band.info["transparency"] = image.info["transparency"]
        if band.mode != target:
            band = band.convert(target)
        shrunk.paste(band.reduce(factor, box=(0, above, width, band.height)), (0, top // factor))
    for name, at, length in chunks:                      # chunks after the image data: an EXIF rotation
        if name == b"eXIf":
            extra["exif"] = b"Exif\x00\x00" + data[at:at + length]
    shrunk.info = {**{k: v for k, v in image.info.items() if k != "transparency"}, **extra}
    return shrunk


def _png_chunks(data: bytes):
    """(name, offset, length) of each chunk of a PNG file's bytes, in order, up to IEND."""
    at = 8                                               # after the signature
    while at + 8 <= len(data):
        length, name = struct.unpack(">I4s", data[at:at + 8])
        yield name, at + 8, length
        if name == b"IEND":
            return
        at += 12 + length                                # length, name, data, CRC


def _shrunk(image: Image.Image) -> Image.Image:
    """The picture at most WORKING_SIDE on a side (never below 1 pixel), its EXIF kept for the rotation."""
    if max(image.size) <= WORKING_SIDE:
        return image
    scale = WORKING_SIDE / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    # A colour-keyed transparency ("transparency" in info, GIF and PNG) becomes alpha before resampling: resampled as
    # colour, the hidden colour bleeds into the edges as an opaque fringe.
    if image.mode not in ("RGB", "RGBA", "L", "LA") or "transparency" in image.info:
        image = image.convert("RGBA" if "transparency" in image.info or image.mode in ("PA",) else "RGB")
    return image.resize(size, Image.Resampling.LANCZOS)         # keeps image.info: EXIF rotation survives


def display_picture(image: Image.Image, side: int = 320) -> Image.Image:
    """The picture fitted into a side×side square on light grey, whatever its shape (a 1700×10
    strip included), for showing beside the 28×28 input."""
    scale = side / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    fitted = image.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (side, side), (240, 240, 240, 255))
    canvas.alpha_composite(fitted, ((side - size[0]) // 2, (side - size[1]) // 2))
    return canvas.convert("RGB")


def ink_intensity(image: Image.Image) -> np.ndarray:
    """A picture -> float ink map in [0, 1] (H, W): white-on-black, background at 0.

    Transparent pixels count as paper. Light ink on dark paper and dark ink on
    light paper both come out as light ink on black, judged by the border."""
    image = image.copy()
    image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    if image.mode == "RGBA":
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        seen = alpha > 0.5
        ink_is_dark = not seen.any() or grey[seen].mean() < 0.5
        paper = 1.0 if ink_is_dark else 0.0                          # contrast with what is drawn
        grey = alpha * grey + (1 - alpha) * paper
    else:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    paper = np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]))
    if paper > 0.5:                                                  # light paper: make the ink light
        grey, paper = 1.0 - grey, 1.0 - paper
    ink = np.clip(grey - paper, 0.0, None)
    if ink.max() <= 0.05:
        raise ImageError(say(N_("No digit found: the image looks blank. Draw or photograph a dark digit on "
                                "light paper (or a light one on dark).")))
    threshold = otsu_threshold(ink)
    ink[ink < NOISE_FLOOR * threshold] = 0.0                          # paper texture, shadows, JPEG noise
    strong = ink[ink >= threshold]
    return np.clip(ink / np.percentile(strong, 90), 0.0, 1.0)


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The level that best splits `values` into two classes (Otsu 1979)."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, float(values.max())))
    centres = (edges[:-1] + edges[1:]) / 2
    weight0 = np.cumsum(hist)[:-1]
    weight1 = hist.sum() - weight0
    sum0 = np.cumsum(hist * centres)[:-1]
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (np.sum(hist * centres) - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(edges[1:][np.argmax(between)])


def fit_to_field(ink: np.ndarray, box: int = BOX, by_mass: bool = True) -> np.ndarray:
    """An ink map (H, W) in [0, 1] -> uint8 (28, 28): cropped to the ink, scaled into box×box keeping
    the aspect ratio, and centred by centre of mass (MNIST: a 20×20 box) or by its box (Fashion-MNIST:
    the whole 28×28 field)."""
    rows, cols = np.nonzero(ink)
    crop = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    height, width = crop.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray(np.uint8(np.round(crop * 255))).resize(size, Image.Resampling.LANCZOS)
    small = np.asarray(small, dtype=np.float32)                       # (h, w) with h, w <= box
    total = small.sum()
    if total == 0:
        raise ImageError(say(N_("No digit found: the ink is too faint or too thin to see at 28×28 pixels.")))
    ys, xs = np.indices(small.shape)
    com_y, com_x = ((ys * small).sum() / total, (xs * small).sum() / total) if by_mass else \
        ((small.shape[0] - 1) / 2, (small.shape[1] - 1) / 2)
    # MNIST's own digits have their mean centre of mass at (14, 14); a box is centred on the field's middle,
    # 13.5 in pixel indices (a 14-pixel-tall item gets 7 empty rows above and below, as in Fashion-MNIST)
    centre = FIELD / 2 if by_mass else (FIELD - 1) / 2
    top = int(np.clip(np.floor(centre - com_y + 0.5), 0, FIELD - small.shape[0]))
    left = int(np.clip(np.floor(centre - com_x + 0.5), 0, FIELD - small.shape[1]))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top: top + small.shape[0], left: left + small.shape[1]] = small
    return np.uint8(np.clip(np.round(field), 0, 255))


def mnist_digit(image: Image.Image) -> np.ndarray:
    """Any picture of one digit -> uint8 (28, 28), white on black, like an MNIST test image."""
    return fit_to_field(ink_intensity(image))


def fashion_item(image: Image.Image) -> np.ndarray:
    """A drawing of one clothing item -> uint8 (28, 28), light on black, framed as Fashion-MNIST's
    product photos were: trimmed to the item, its longer side scaled to 28 pixels, centred."""
    return fit_to_field(ink_intensity(image), box=FIELD, by_mass=False)

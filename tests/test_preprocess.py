"""vae.preprocess: known pictures to known 28×28 arrays, and every unusable file to a plain ImageError."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae.data import load_mnist
from vae.preprocess import WORKING_SIDE, ImageError, display_picture, mnist_digit, read_upload


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def paper_photo(digit: np.ndarray, *, size=(420, 300), at=(40, 60), scale=9) -> Image.Image:
    """An MNIST digit as dark ink on light, slightly uneven paper, off-centre and large, in colour."""
    ink = np.kron(digit.astype(np.float32) / 255, np.ones((scale, scale)))
    height, width = size[1], size[0]
    paper = np.linspace(225, 245, width)[None, :].repeat(height, 0)   # a gentle lighting gradient
    page = paper.copy()
    top, left = at
    page[top: top + ink.shape[0], left: left + ink.shape[1]] -= ink * 200
    rgb = np.stack([page, page * 0.97, page * 0.92], -1)              # warm paper, not pure grey
    return Image.fromarray(np.uint8(np.clip(rgb, 0, 255)))


@pytest.fixture(scope="module")
def test_digits():
    images, labels = load_mnist("test")
    return images[:20].numpy(), labels[:20].numpy()


def test_known_rectangle_becomes_a_centred_20_by_10_block():
    page = np.full((200, 300), 255, np.uint8)
    page[20:70, 150:250] = 0                                          # 100 wide, 50 tall, off-centre
    expected = np.zeros((28, 28), np.uint8)
    expected[10:20, 5:25] = 255                                       # 20×10, centre of mass at (14.5, 14.5)
    np.testing.assert_array_equal(mnist_digit(Image.fromarray(page)), expected)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_photo_of_an_mnist_digit_comes_back_close_to_the_digit(test_digits, fmt):
    digits, _ = test_digits
    for digit in digits[:5]:
        upload = read_upload(encode(paper_photo(digit), fmt))
        result = mnist_digit(upload.image).astype(np.float32) / 255
        original = digit.astype(np.float32) / 255
        correlation = np.corrcoef(result.ravel(), original.ravel())[0, 1]
        assert correlation > 0.8, f"{fmt}: correlation {correlation:.2f}"


def test_light_on_dark_and_dark_on_light_give_the_same_digit(test_digits):
    digit = test_digits[0][0]
    big = Image.fromarray(digit).resize((280, 280), Image.Resampling.NEAREST)
    np.testing.assert_array_equal(mnist_digit(big), mnist_digit(Image.fromarray(255 - np.asarray(big))))


def test_transparent_background_with_dark_or_light_strokes(test_digits):
    digit = test_digits[0][0]
    alpha = Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR)
    for colour in ((0, 0, 0), (255, 255, 255)):
        strokes = Image.new("RGBA", (280, 280), colour + (0,))
        strokes.putalpha(alpha)
        result = mnist_digit(read_upload(encode(strokes, "PNG")).image)
        assert np.corrcoef(result.ravel(), digit.ravel())[0, 1] > 0.8


def test_animated_gif_uses_its_first_frame(test_digits):
    first, second = (Image.fromarray(255 - d).resize((140, 140)) for d in test_digits[0][:2])
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100)
    upload = read_upload(data)
    assert upload.animated
    np.testing.assert_array_equal(mnist_digit(upload.image), mnist_digit(first))
    assert not read_upload(encode(first, "PNG")).animated


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header is then rewritten to claim width×height pixels."""
    data = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    ihdr = bytearray(data[12:29])                                      # chunk type + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


@pytest.mark.parametrize("data, words", [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"hello, this is a text file\n" * 20, "not an image", id="text-named-png"),
    pytest.param(encode(Image.new("L", (300, 300), 128), "PNG")[:200], "truncated", id="truncated-png"),
    pytest.param(encode(Image.new("RGB", (300, 300), "white"), "JPEG")[:300], "truncated", id="truncated-jpeg"),
    pytest.param(png_with_declared_size(13_000, 12_000), "13000×12000 pixels, too large", id="over-our-limit"),
    pytest.param(png_with_declared_size(100_000, 100_000), "decompression bomb", id="pillow-bomb"),
])
def test_unusable_files_raise_plain_errors(data, words):
    """Every way a file can be unusable is an ImageError with a message a person can act on."""
    with pytest.raises(ImageError, match=words):
        read_upload(data)


@pytest.mark.parametrize("colour", [0, 255], ids=["black", "white"])
def test_blank_picture_says_no_digit(colour):
    with pytest.raises(ImageError, match="No digit found"):
        mnist_digit(Image.new("L", (100, 100), colour))


def postscript_named_png() -> bytes:
    """A real PostScript file: Pillow opens it (through Ghostscript) unless the formats are limited."""
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nnewpath 10 10 moveto 90 90 lineto stroke\nshowpage\n"


@pytest.mark.parametrize("data", [postscript_named_png(), encode(Image.new("RGB", (40, 40), "white"), "TIFF"),
                                  encode(Image.new("RGB", (40, 40), "white"), "ICO")], ids=["postscript", "tiff", "ico"])
def test_only_the_allowed_decoders_are_reached(data):
    with pytest.raises(ImageError, match="not an image that can be read"):
        read_upload(data)


@pytest.mark.parametrize("size", [(1700, 10), (10, 1700), (20_000, 8), (3, 3000)])
def test_any_shape_gives_a_digit_and_a_picture_to_show(size):
    strip = Image.new("L", size, 255)
    ImageDraw.Draw(strip).rectangle([size[0] // 4, size[1] // 3, 3 * size[0] // 4, 2 * size[1] // 3], fill=0)
    upload = read_upload(encode(strip, "PNG"))
    assert max(upload.image.size) <= WORKING_SIDE and min(upload.image.size) >= 1
    digit = mnist_digit(upload.image)
    assert digit.shape == (28, 28) and digit.max() > 100
    assert display_picture(upload.image).size == (320, 320)


def test_a_large_photo_is_read_small_and_keeps_its_digit(mnist_test):
    digit = mnist_test[0][7].numpy()                                   # a 9
    photo = Image.fromarray(255 - np.kron(digit, np.ones((300, 300), np.uint8))).convert("RGB")   # 8400² = 70 MP
    upload = read_upload(encode(photo, "JPEG"))
    assert max(upload.image.size) <= WORKING_SIDE
    ours = mnist_digit(upload.image).astype(np.float32)
    assert np.corrcoef(ours.ravel(), digit.astype(np.float32).ravel())[0, 1] > 0.9


@pytest.mark.parametrize("side", [600, 3000], ids=["small", "shrunk-on-reading"])
def test_a_phone_photos_exif_rotation_is_applied_also_after_shrinking(side):
    stored = np.full((side, side // 2), 255, np.uint8)
    stored[: side // 4] = 0                                       # ink along the top of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6                                              # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    Image.fromarray(stored).convert("RGB").save(buffer, "JPEG", exif=exif.tobytes())
    shown = np.asarray(read_upload(buffer.getvalue()).image.convert("L"))
    assert shown.shape[1] > shown.shape[0]                        # upright: now wider than tall
    assert shown[:, -5:].mean() < 60 and shown[:, :5].mean() > 200   # the top band turned to the right edge

"""vae.preprocess: known pictures to known 28×28 arrays, and every unusable file to a plain ImageError."""
import ctypes
import ctypes.util
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae.data import load_mnist
from vae.preprocess import (WORKING_SIDE, ImageError, display_picture, fashion_item, fit_to_field, ink_intensity,
                            mnist_digit, otsu_threshold, read_upload)

from harness import photo_of_digit   # the one photo builder, also the browser tests'


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


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
        upload = read_upload(photo_of_digit(digit, fmt))
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


# ---------------------------------------------------------------------------------------------------------------
# The steps one by one, against independent computations: Otsu's threshold by trying every split, the ink map
# from its definition in float64, framing by measuring the result.

def brute_force_otsu(values: np.ndarray, bins: int = 64) -> float:
    """Otsu on a `bins`-bin histogram of [0, max] (each value counted at its bin's centre), by trying every split
    and keeping the first that maximises the between-class variance w0·w1·(m0 − m1)²; the upper edge of the
    lower class's last bin comes back."""
    edges = np.linspace(0.0, float(values.max()), bins + 1)
    index = np.minimum(np.searchsorted(edges, values.ravel(), side="right") - 1, bins - 1)
    at_centre = (edges[index] + edges[index + 1]) / 2
    best, best_k = -1.0, None
    for k in range(bins - 1):
        low = index <= k
        n0, n1 = int(low.sum()), int((~low).sum())
        between = 0.0 if n0 == 0 or n1 == 0 else n0 * n1 * (at_centre[low].mean() - at_centre[~low].mean()) ** 2
        if between > best:
            best, best_k = between, k
    return float(edges[best_k + 1])


def _otsu_cases():
    rng = np.random.default_rng(5)
    two_clusters = np.concatenate([rng.normal(0.3, 0.05, 300), rng.normal(0.8, 0.08, 150)]).clip(0.01, None)
    yield "three-values", np.array([0.3, 0.6, 1.0])                 # a class of one on the left wins
    yield "one-on-the-right", np.array([0.1, 0.15, 0.2, 0.65, 1.0])
    yield "two-clusters", two_clusters
    yield "clusters-far-from-0", two_clusters * 0.4 + 0.5             # the histogram still starts at 0
    yield "skewed", rng.exponential(0.2, 2000)
    yield "ink-like", np.concatenate([np.zeros(5000), rng.uniform(0.02, 0.15, 400), rng.uniform(0.6, 1.0, 600)])
    for n in (3, 4, 6):
        yield f"random-{n}", rng.uniform(0.05, 1.0, n)


@pytest.mark.parametrize("values", [pytest.param(v, id=name) for name, v in _otsu_cases()])
def test_otsu_threshold_is_the_best_split_found_by_trying_them_all(values):
    assert otsu_threshold(values) == pytest.approx(brute_force_otsu(values), rel=1e-9)


def reference_ink(grey: np.ndarray) -> np.ndarray:
    """The ink map as the module's docstring defines it, in float64: light-on-black judged by the border's
    median, the paper subtracted, pixels under half of Otsu's threshold dropped, the 90th percentile of the
    pixels at or above the threshold taken as full ink."""
    paper = np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]))
    if paper > 0.5:
        grey, paper = 1 - grey, 1 - paper
    ink = np.maximum(grey - paper, 0.0)
    threshold = brute_force_otsu(ink)
    ink[ink < threshold / 2] = 0.0
    return np.minimum(ink / np.percentile(ink[ink >= threshold], 90), 1.0)


def _strokes(rng, shape=(60, 80)):
    """A page of three kinds of marks at uneven levels in [0, 1] (0: none): strong strokes, mid-grey ones,
    faint smudges."""
    marks = np.zeros(shape)
    marks[10:50, 10:20] = rng.uniform(0.75, 1.0, (40, 10))
    marks[10:20, 20:60] = rng.uniform(0.75, 1.0, (10, 40))
    marks[30:45, 40:70] = rng.uniform(0.2, 0.4, (15, 30))
    marks[50:55, 30:75] = rng.uniform(0.03, 0.07, (5, 45))
    return marks


@pytest.mark.parametrize("dark_ink", [True, False], ids=["dark-ink-on-light-paper", "light-ink-on-dark-paper"])
def test_the_ink_map_of_an_opaque_page_follows_its_definition(dark_ink):
    marks = _strokes(np.random.default_rng(1))
    levels = np.round(201 * marks)                                    # 201 levels of ink: no value on a bin edge
    pixels = (230 - levels) if dark_ink else (25 + levels)
    ink = ink_intensity(Image.fromarray(np.uint8(pixels)))
    expected = reference_ink(pixels / 255.0)
    assert ink.shape == pixels.shape and ink.dtype == np.float32
    np.testing.assert_allclose(ink, expected, atol=1e-6)
    threshold = brute_force_otsu(np.maximum(np.abs(pixels - pixels[0, 0]) / 255, 0))
    faint = (levels > 0) & (levels / 255 < threshold / 2)
    assert faint.any() and not ink[faint].any()                       # the smudges went
    assert ((ink > 0) & (ink < 1)).any() and (ink == 1).mean() > 0.01  # grey strokes stay grey, strong ones full


@pytest.mark.parametrize("stroke_grey", [(0.1, 0.35), (0.9, 0.65)], ids=["dark-strokes", "light-strokes"])
def test_the_ink_map_of_strokes_on_a_transparent_layer_treats_the_transparency_as_paper(stroke_grey):
    """Drawn strokes (two shades, antialiased edges) on a transparent canvas: the paper is taken to contrast with
    the strokes, and a half-transparent pixel is that much ink."""
    rng = np.random.default_rng(2)
    marks = _strokes(rng)
    alpha = np.round(255 * np.clip(marks * 1.3, 0, 1))
    grey = np.where(np.arange(marks.shape[1]) < 40, *(np.round(255 * g) for g in stroke_grey))[None].repeat(60, 0)
    rgba = np.stack([grey, grey, grey, alpha], -1)
    rgba[alpha == 0, :3] = rng.integers(0, 256, ((alpha == 0).sum(), 3))   # colour under transparency is not seen
    ink = ink_intensity(Image.fromarray(np.uint8(rgba), "RGBA"))
    a, g = alpha / 255, grey / 255
    paper = 1.0 if g[a > 0.5].mean() < 0.5 else 0.0
    np.testing.assert_allclose(ink, reference_ink(a * g + (1 - a) * paper), atol=1e-5)


def test_the_paper_contrasts_with_the_opaque_strokes_not_with_a_faint_wash():
    """Dark strokes over a wide, barely visible light wash (alpha 20/255): the strokes decide that the ink is
    dark, so the paper is light and the wash, nearly paper-coloured, is not ink."""
    rgba = np.zeros((60, 60, 4))
    rgba[5:55, 5:55] = (255, 255, 255, 20)                            # the wash
    rgba[20:40, 28:32] = (30, 30, 30, 255)                            # a stroke
    ink = ink_intensity(Image.fromarray(np.uint8(rgba), "RGBA"))
    assert ink[20:40, 28:32].min() == 1.0 and ink.sum() == 20 * 4


def test_a_wholly_transparent_picture_is_blank():
    with pytest.raises(ImageError, match="No digit found"):
        ink_intensity(Image.new("RGBA", (50, 50), (255, 255, 255, 0)))


BLANK = ("No digit found: the image looks blank. Draw or photograph a dark digit on light paper "
         "(or a light one on dark).")


@pytest.mark.parametrize("paper, ink", [(200, 187), (60, 73)], ids=["dark-on-light", "light-on-dark"])
def test_thirteen_grey_levels_of_contrast_are_ink_and_twelve_are_blank(paper, ink):
    """A mark must stand out from the paper by more than 5 % of the grey scale (13/255 does, 12/255 does not)."""
    page = np.full((40, 40), paper, np.uint8)
    page[10:30, 18:22] = ink
    assert ink_intensity(Image.fromarray(page))[10:30, 18:22].min() == 1.0
    page[10:30, 18:22] = ink + (1 if ink < paper else -1)
    with pytest.raises(ImageError) as info:
        ink_intensity(Image.fromarray(page))
    assert str(info.value) == BLANK


@pytest.mark.parametrize("paper, ink", [(128, 20), (127, 235)], ids=["paper-just-light", "paper-just-dark"])
def test_paper_lighter_than_half_grey_is_light_paper(paper, ink):
    page = np.full((40, 40), paper, np.uint8)
    page[10:30, 18:22] = ink
    result = ink_intensity(Image.fromarray(page))
    assert result[10:30, 18:22].min() == 1.0 and result.sum() == 20 * 4


def test_a_picture_larger_than_the_working_size_is_read_at_the_working_size():
    page = Image.new("L", (3000, 900), 255)
    ImageDraw.Draw(page).rectangle([1000, 300, 1600, 600], fill=0)
    ink = ink_intensity(page)
    assert ink.shape == (round(900 * WORKING_SIDE / 3000), WORKING_SIDE)
    assert page.size == (3000, 900)                                   # the caller's picture is untouched


def _centre_of_mass(field: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(field.shape)
    total = field.astype(np.float64).sum()
    return float((ys * field).sum() / total), float((xs * field).sum() / total)


def _bbox(field: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(field)
    return rows.min(), rows.max(), cols.min(), cols.max()


def test_mnist_framing_scales_into_20_by_20_and_centres_the_mass_at_14_14(test_digits):
    rng = np.random.default_rng(3)
    for digit in test_digits[0]:
        page = np.zeros((130, 130))
        top, left = rng.integers(0, 40, 2)
        page[top: top + 84, left: left + 84] = np.kron(digit / 255.0, np.ones((3, 3)))
        field = fit_to_field(page)
        r0, r1, c0, c1 = _bbox(field)
        assert max(r1 - r0, c1 - c0) + 1 in (19, 20)                  # the longer side fills the box (±1: ringing)
        com_y, com_x = _centre_of_mass(field)
        assert abs(com_y - 14) <= 0.5 + 1e-6 and abs(com_x - 14) <= 0.5 + 1e-6, (com_y, com_x)


@pytest.mark.parametrize("turns", [0, 1, 2, 3], ids=["heavy-bottom", "heavy-right", "heavy-top", "heavy-left"])
def test_a_glyph_whose_mass_cannot_be_centred_stays_whole_against_the_edge(turns):
    """A stem with a heavy foot: centring its mass would push the stem's end out of the field; the glyph stops at
    the edge instead, whole, and is centred by mass the other way. (Turned back upright for the checks.)"""
    page = np.zeros((100, 100))
    page[:, 50] = 1.0
    page[80:, :] = 1.0
    framed = fit_to_field(np.rot90(page, turns).copy())
    assert abs(_centre_of_mass(framed)[1 - turns % 2] - 14) <= 0.5 + 1e-6
    field = np.rot90(framed, -turns)
    assert field[0].sum() > 0 and field[19].sum() > 0 and field[20:].sum() == 0


@pytest.mark.parametrize("transpose", [False, True], ids=["horizontal", "vertical"])
def test_a_one_pixel_line_stays_one_pixel_thick(transpose):
    page = np.zeros((40, 120))
    page[17, 10:110] = 1.0
    expected = np.zeros((28, 28), np.uint8)
    expected[14, 5:25] = 255                                          # 20 long, centre of mass at (14, 14.5)
    field = fit_to_field(page.T if transpose else page)
    np.testing.assert_array_equal(field, expected.T if transpose else expected)


def test_ink_too_faint_to_survive_28_by_28_is_refused():
    page = np.zeros((50, 50))
    page[20, 20] = 0.001
    with pytest.raises(ImageError) as info:
        fit_to_field(page)
    assert str(info.value) == "No digit found: the ink is too faint or too thin to see at 28×28 pixels."


def test_a_fashion_item_is_trimmed_scaled_to_28_and_centred_by_its_box():
    page = np.full((200, 300), 255, np.uint8)
    page[20:70, 150:250] = 0                                          # 100 wide, 50 tall
    expected = np.zeros((28, 28), np.uint8)
    expected[7:21, :] = 255                                           # 28×14, margins of 7 above and below
    np.testing.assert_array_equal(fashion_item(Image.fromarray(page)), expected)


@pytest.mark.parametrize("size", [(50, 100), (100, 50), (65, 90), (90, 65), (61, 90)])
def test_a_fashion_items_box_is_centred_whatever_its_mass(size):
    """A right triangle: its mass leans to one corner, but the frame centres its box as Fashion-MNIST does
    (equal margins, or one pixel more above or on the left when the difference is odd)."""
    height, width = size
    page = np.zeros((height + 40, width + 40))
    page[20: 20 + height, 20: 20 + width] = np.arange(height)[:, None] * width >= np.arange(width)[None, :] * height
    field = fit_to_field(page, box=28, by_mass=False)
    r0, r1, c0, c1 = _bbox(field)
    assert max(r1 - r0, c1 - c0) + 1 == 28
    assert 0 <= r0 - (27 - r1) <= 1 and 0 <= c0 - (27 - c1) <= 1, (r0, r1, c0, c1)


def test_the_picture_to_show_is_fitted_and_centred_on_light_grey():
    red = Image.new("RGB", (100, 50), (200, 0, 0))
    shown = np.asarray(display_picture(red))
    assert display_picture(red).mode == "RGB" and shown.shape == (320, 320, 3)
    assert (shown[:80] == 240).all() and (shown[240:] == 240).all()
    assert (shown[80:240] == (200, 0, 0)).all()                       # scaled to 320×160, centred vertically
    tall = np.asarray(display_picture(Image.new("RGB", (30, 60), (0, 0, 200)), side=100))
    assert (tall[:, :25] == 240).all() and (tall[:, 75:] == 240).all() and (tall[:, 25:75] == (0, 0, 200)).all()
    clear = np.asarray(display_picture(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), side=10))
    assert (clear == 240).all()                                        # transparency shows the grey


@pytest.mark.parametrize("size", [(1000, 1), (1, 1000)], ids=["wide", "tall"])
def test_a_strip_too_thin_to_scale_is_shown_one_pixel_thick(size):
    shown = np.asarray(display_picture(Image.new("L", size, 0)))
    dark = shown.min(axis=2) < 200
    assert dark.sum() == 320 and (dark[159].all() if size[0] > 1 else dark[:, 159].all())


@pytest.mark.parametrize("data, message", [
    pytest.param(b"", "The file is empty.", id="empty"),
    pytest.param(b"GIF89a but not really" * 3,
                 "This file is not an image that can be read. Upload a PNG, JPEG, GIF, BMP or WebP picture.", id="text"),
    pytest.param(encode(Image.new("L", (300, 300), 128), "PNG")[:200],
                 "The image file is damaged or cut off (truncated) and cannot be read.", id="truncated"),
    pytest.param(png_with_declared_size(100_000, 100_000),
                 "The image declares a huge size, too large to open safely (a possible decompression bomb).", id="bomb"),
    pytest.param(png_with_declared_size(15_001, 10_000), f"The image is 15001×10000 pixels, too large to open safely "
                 f"(the limit is {150_000_000 // 10**6} megapixels).", id="one-column-over-the-limit"),
    pytest.param(png_with_declared_size(15_000, 10_000),                 # exactly the limit: opened (and found cut off)
                 "The image file is damaged or cut off (truncated) and cannot be read.", id="at-the-limit"),
])
def test_each_unusable_file_gets_its_whole_message(data, message):
    with pytest.raises(ImageError) as info:
        read_upload(data)
    assert str(info.value) == message


@pytest.mark.parametrize("size", [(1, 300), (300, 1), (1, 1)])
@pytest.mark.parametrize("fmt", ["PNG", "BMP"])
def test_a_picture_one_pixel_wide_or_tall_is_read(size, fmt):
    upload = read_upload(encode(Image.new("L", size, 0), fmt))
    assert upload.image.size == size and not upload.animated


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "WEBP", "PNG"])
def test_a_still_picture_is_not_animated_whatever_its_format(fmt):
    assert not read_upload(encode(Image.new("RGB", (20, 20), "white"), fmt)).animated


@pytest.mark.parametrize("mode, fmt, expected", [
    ("L", "PNG", "RGB"), ("1", "BMP", "RGB"), ("RGB", "WEBP", "RGB"), ("P", "GIF", "RGB"),
    ("LA", "PNG", "RGBA"), ("RGBA", "PNG", "RGBA"), ("P-transparent", "GIF", "RGBA"), ("P-transparent", "PNG", "RGBA"),
])
@pytest.mark.parametrize("side", [40, 1500], ids=["small", "shrunk"])
def test_an_upload_comes_back_rgb_or_rgba_if_it_has_transparency(mode, fmt, expected, side):
    """Transparency survives reading (and shrinking): a transparent quarter stays transparent, the rest opaque."""
    picture = Image.new("L", (side, side), 0)
    ImageDraw.Draw(picture).rectangle([side // 2, side // 2, side, side], fill=200)
    if mode == "P-transparent":
        picture = picture.convert("P")
        picture.info["transparency"] = 0                              # the black palette entry
        kwargs = {"transparency": 0}
    else:
        picture = picture.convert(mode) if mode not in ("LA", "RGBA") else picture.convert("RGB").convert(mode)
        kwargs = {}
        if mode in ("LA", "RGBA"):
            alpha = Image.new("L", picture.size, 0)
            ImageDraw.Draw(alpha).rectangle([side // 2, 0, side, side], fill=255)   # right half opaque
            picture.putalpha(alpha)
    image = read_upload(encode(picture, fmt, **kwargs)).image
    assert image.mode == expected and max(image.size) <= WORKING_SIDE
    if expected == "RGBA":
        alpha = np.asarray(image.getchannel("A"))
        assert alpha[:, : alpha.shape[1] // 3].max() == 0 and alpha[-5:, -5:].min() == 255
    if mode == "P-transparent":                   # what shows is the grey square: no dark fringe from the hidden black
        grey = np.asarray(image.convert("L"))
        assert grey[alpha >= 128].min() >= 180


def test_a_large_gif_is_shrunk_smoothly_so_thin_lines_stay_visible():
    """A 4096-wide GIF of 1-pixel lines every 4 pixels, read at a quarter: averaging keeps the lines as grey;
    picking every fourth pixel (what a palette image gets unless converted first) would drop them all."""
    lines = np.full((64, 4096), 255, np.uint8)
    lines[:, 1::4] = 0
    image = read_upload(encode(Image.fromarray(lines).convert("P"), "GIF")).image
    assert image.size == (1024, 16) and image.mode == "RGB"
    assert np.asarray(image.convert("L")).max() < 230


def test_a_thin_strip_is_read_one_pixel_thick():
    assert read_upload(encode(Image.new("L", (20_000, 8), 0), "PNG")).image.size == (1024, 1)
    assert read_upload(encode(Image.new("L", (8, 20_000), 0), "PNG")).image.size == (1, 1024)


@pytest.fixture
def decode_spy(monkeypatch):
    """Records the size each picture is decoded at, whether the big-decode gate was held then, and whether freed
    memory was handed back."""
    from vae import preprocess

    record = {"decoded": [], "gate": 0, "held": [], "trimmed": 0}

    class Gate:
        def __enter__(self):
            record["gate"] += 1

        def __exit__(self, *exc):
            record["gate"] -= 1

    shrunk = preprocess._shrunk

    def spy(image):
        record["decoded"].append(image.size)
        record["held"].append(record["gate"])
        return shrunk(image)

    monkeypatch.setattr(preprocess, "_BIG_DECODES", Gate())
    monkeypatch.setattr(preprocess, "_shrunk", spy)
    monkeypatch.setattr(preprocess, "_return_freed_memory", lambda: record.__setitem__("trimmed", record["trimmed"] + 1))
    return record


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(decode_spy):
    """2100×2100 asked for at 1024: the largest reduction that keeps both sides at least 1024 is 1/2."""
    upload = read_upload(encode(Image.new("RGB", (2100, 2100), "white"), "JPEG"))
    assert decode_spy["decoded"] == [(1050, 1050)] and upload.image.size == (1024, 1024)
    read_upload(encode(Image.new("RGB", (2100, 2100), "white"), "PNG"))
    assert decode_spy["decoded"][1] == (2100, 2100)                   # other formats decode at full size


@pytest.mark.parametrize("size, big", [((4000, 2000), False), ((4001, 2000), True), ((2000, 4001), True)],
                         ids=["8MP", "just-over-wide", "just-over-tall"])
def test_only_pictures_over_8_megapixels_wait_for_the_big_decode_gate(decode_spy, size, big):
    read_upload(encode(Image.new("L", size, 255), "PNG"))
    assert decode_spy["held"] == [1 if big else 0] and decode_spy["gate"] == 0
    assert decode_spy["trimmed"] == (1 if big else 0)


def test_freed_memory_is_handed_back_through_the_c_librarys_malloc_trim(monkeypatch):
    from vae import preprocess

    calls = []

    class CLibrary:
        def __init__(self, name):
            calls.append(name)

        def malloc_trim(self, pad):
            calls.append(pad)

    monkeypatch.setattr(ctypes, "CDLL", CLibrary)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: {"c": "libc-found.so"}.get(name))
    preprocess._return_freed_memory()
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    preprocess._return_freed_memory()
    assert calls == ["libc-found.so", 0, "libc.so.6", 0]            # all free memory (no padding kept)


def test_handing_memory_back_never_fails(monkeypatch):
    from vae import preprocess

    preprocess._return_freed_memory()                                 # the real C library
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    preprocess._return_freed_memory()                                 # found by its usual name
    for error in (OSError("no libc"), AttributeError("no malloc_trim")):
        def fail(name, error=error):
            raise error
        monkeypatch.setattr(ctypes, "CDLL", fail)
        preprocess._return_freed_memory()                             # not glibc: nothing to do


def _large_png(kind: str, size=(4100, 2101)) -> tuple[bytes, str]:
    """A noisy picture over 8 MP (every PNG row filter gets used) as a PNG of `kind`, and the mode it reads as."""
    rng = np.random.default_rng(3)
    coarse = Image.fromarray(rng.integers(0, 256, (size[1] // 60, size[0] // 60, 4), dtype=np.uint8), "RGBA")
    pixels = np.asarray(coarse.resize(size, Image.Resampling.BILINEAR)).copy()
    pixels[::5] = rng.integers(0, 256, pixels[::5].shape, dtype=np.uint8)       # every fifth row: noise
    picture = Image.fromarray(pixels, "RGBA")
    if kind.startswith("P"):
        picture, kwargs = picture.convert("RGB").quantize(48), {}
        if kind == "P-transparent":
            kwargs = {"transparency": bytes(range(0, 240, 5))}               # a tRNS alpha per palette entry
        return encode(picture, "PNG", **kwargs), "RGBA" if kwargs else "RGB"
    if kind == "RGB-keyed":
        return encode(picture.convert("RGB"), "PNG", transparency=(12, 34, 56)), "RGBA"
    return encode(picture.convert(kind), "PNG"), {"L": "RGB", "LA": "RGBA"}.get(kind, kind)


@pytest.mark.parametrize("kind", ["L", "LA", "RGB", "RGBA", "P", "P-transparent", "RGB-keyed"])
def test_a_large_png_is_read_a_band_at_a_time_at_a_reduced_scale(decode_spy, monkeypatch, kind):
    """A PNG over 8 MP is never held at full size (a 150 MP RGBA one is 600 MB, and a palette one was also
    converted to RGB whole): its rows are decoded a band at a time and each band box-averaged by the whole
    factor that keeps 1024 px (here 4), as a JPEG's draft mode reads. The pixels are those of decoding it
    whole with Pillow, then reducing by 4 and resampling to 1024, including the last, partial rows."""
    from vae import preprocess

    monkeypatch.setattr(preprocess, "BAND_BYTES", 200_000)           # a dozen rows a band: many bands
    data, mode = _large_png(kind)
    image = read_upload(data).image
    assert decode_spy["decoded"] == [(1025, 526)] and decode_spy["held"] == [1]
    whole = Image.open(io.BytesIO(data))
    whole = whole.convert("RGBA" if "transparency" in whole.info else ("RGB" if whole.mode == "P" else whole.mode))
    reduced = whole.reduce(4)
    expected = reduced.resize((1024, round(reduced.height * 1024 / reduced.width)), Image.Resampling.LANCZOS)
    assert image.mode == mode and image.size == expected.size == (1024, 525)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(expected.convert(mode)))


def test_a_large_png_cut_short_or_damaged_gets_the_plain_message():
    data, _ = _large_png("RGB")
    idat = data.index(b"IDAT") + 4
    damaged = data[:idat + 5000] + bytes(255 - b for b in data[idat + 5000: idat + 5200]) + data[idat + 5200:]
    for broken in (data[: len(data) // 2], damaged):
        with pytest.raises(ImageError, match="damaged or cut off"):
            read_upload(broken)


def test_a_large_pngs_exif_rotation_is_applied():
    stored = np.full((3200, 2600), 255, np.uint8)
    stored[:800] = 0                                              # ink along the top of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6                                              # "rotate 90° clockwise to display"
    shown = np.asarray(read_upload(encode(Image.fromarray(stored), "PNG", exif=exif.tobytes())).image.convert("L"))
    assert shown.shape == (832, 1024)                             # upright: wider than tall
    assert shown[:, -5:].mean() < 60 and shown[:, :5].mean() > 200

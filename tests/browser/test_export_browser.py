"""The exported one-file explorer (vae.export) in Chromium, opened from file:// with the network off:
nothing leaves the page, hovering decodes as torch for an mlp and a conv model, the dot shows its
test image, zoom, a tap, the # link, Fashion-MNIST's names and images, the dark theme, fullscreen, and
a browser without what the file needs."""
import numpy as np
import pytest
import torch

import vae
from harness import ROOT, settle, zoom_wheel
from vae.data import load_dataset
from vae.export import export_html
from vae.webdecoder import reference_decode

PIXEL_TOLERANCE = 2 / 255
READY = """() => window.__vaeLatentCache && [...window.__vaeLatentCache.blobs.keys()].some((k) => k.startsWith('decoder-'))
                && document.querySelector('.vlp-plane').dataset.view"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """{name: (html path, model)}: the shipped MNIST model and a conv model with weights large enough
    for varied digits, exported."""
    folder = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    conv = vae.VAE(vae.ModelConfig(arch="conv", hidden=64, channels=8, activation="elu")).eval()
    with torch.no_grad():
        for parameter in conv.decoder.parameters():
            parameter.mul_(3)
    vae.save_checkpoint(folder / "conv.pt", conv, {"dataset": "mnist"})
    out = {}
    for name, checkpoint in (("mnist", ROOT / "checkpoints" / "mnist-2d.pt"), ("conv", folder / "conv.pt")):
        export_html(checkpoint, folder / f"{name}.html")
        out[name] = (folder / f"{name}.html", vae.load_checkpoint(checkpoint)[0])
    return out


def open_offline(chromium, path, *, fragment="", **context_options):
    """(context, page, requests): the file opened with the network off, once its decoder is ready."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, **context_options)
    context.set_offline(True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri() + fragment)
    page.wait_for_function(READY)
    assert not errors, errors
    return context, page, requests


def view(page):
    return [float(v) for v in page.locator(".vlp-plane").get_attribute("data-view").split(",")]


def hover(page, fx, fy):
    """Move to fractions (fx, fy) of the plane: (the point the preview shows, its pixels in [0, 1])."""
    box = page.locator(".vlp-planewrap").bounding_box()
    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    settle(page)
    shown = page.locator(".vlp-preview").evaluate("""(c) => ({z: c.dataset.z,
        px: Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)})""")
    return [float(v) for v in shown["z"].split(",")], np.asarray(shown["px"], np.float32).reshape(28, 28) / 255


@pytest.mark.slow                   # exporting two models and 64 hovers each: `make test-slow`
@pytest.mark.parametrize("name", ["mnist", "conv"])
def test_the_file_opens_offline_asks_for_nothing_and_hover_decodes_as_torch(chromium, files, name):
    path, model = files[name]
    context, page, requests = open_offline(chromium, path)
    assert requests == [path.as_uri()]                               # the file itself, nothing else
    seen = []
    for fx, fy in np.random.default_rng(3).uniform(0.05, 0.95, (64, 2)):
        z, pixels = hover(page, fx, fy)
        expected = reference_decode(model, np.asarray([z], np.float32))[0]
        assert np.abs(pixels - expected).max() <= PIXEL_TOLERANCE
        seen.append(pixels)
    assert np.std(seen, axis=0).mean() > 0.02, "the 64 decodings are alike: the check would prove little"
    context.close()


@pytest.mark.slow
def test_a_dot_shows_its_test_image_and_label(chromium, files):
    context, page, _ = open_offline(chromium, files["mnist"][0])
    images, labels = load_dataset("test", None)
    for fx in np.linspace(0.3, 0.7, 41):
        hover(page, fx, 0.5)
        if page.locator(".vlp-dot").get_attribute("data-index") and "empty" not in page.locator(".vlp-dot").get_attribute("class"):
            break
    index = int(page.locator(".vlp-dot").get_attribute("data-index"))
    page.wait_for_timeout(300)
    shown = np.asarray(page.locator(".vlp-dotimg").evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)"))
    assert (shown.reshape(28, 28) == images[index].numpy()).all()      # MNIST's sprite is lossless
    assert f"labelled {int(labels[index])}" in page.locator(".vlp-dotinfo").inner_text()
    context.close()


@pytest.mark.slow
def test_zoom_a_tap_and_the_link_round_trip(chromium, files):
    path = files["mnist"][0]
    context, page, _ = open_offline(chromium, path)
    before = view(page)
    box = page.locator(".vlp-planewrap").bounding_box()
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.4 * box["height"])
    for _ in range(4):
        zoom_wheel(page, -240)
        page.wait_for_timeout(50)
    after = view(page)
    assert after[1] - after[0] < 0.6 * (before[1] - before[0])
    page.mouse.click(box["x"] + 0.25 * box["width"], box["y"] + 0.75 * box["height"])
    page.wait_for_timeout(400)                                     # the view is written a moment after it settles
    link = page.url
    assert "#z=" in link and "view=" in link
    context.close()

    # the link opens the same view and pin, in a new browser
    context, page, _ = open_offline(chromium, path, fragment="#" + link.split("#", 1)[1])
    assert view(page) == pytest.approx(after, abs=1e-3)
    x0, x1, y0, y1 = after
    pinned = (x0 + 0.25 * (x1 - x0), y1 - 0.75 * (y1 - y0))
    assert page.locator(".vlp-preview").get_attribute("data-z") is not None
    assert [float(v) for v in page.locator(".vlp-preview").get_attribute("data-z").split(",")] == \
        pytest.approx(pinned, abs=0.01 * (x1 - x0))
    assert "pinned" in page.locator(".vlp-coords").inner_text()
    context.close()

    # a tap on a touch screen pins the tapped point and writes it in the link
    context, page, _ = open_offline(chromium, path, has_touch=True, is_mobile=True)
    page.set_viewport_size({"width": 414, "height": 896})
    page.wait_for_timeout(300)
    page.locator(".vlp-planewrap").scroll_into_view_if_needed()
    box = page.locator(".vlp-planewrap").bounding_box()
    assert box["width"] >= 0.85 * 414
    x0, x1, y0, y1 = view(page)
    page.touchscreen.tap(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
    page.wait_for_timeout(300)
    z = [float(v) for v in page.url.split("#z=", 1)[1].split("&", 1)[0].split(",")]
    assert z == pytest.approx((x0 + 0.7 * (x1 - x0), y1 - 0.3 * (y1 - y0)), abs=0.02 * (x1 - x0))
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    context.close()


@pytest.mark.slow
def test_a_fashion_export_names_fashion_classes_and_shows_fashion_images(chromium, tmp_path):
    try:
        images, labels = load_dataset("test", None, dataset="fashion-mnist")
    except Exception as exc:
        pytest.skip(f"Fashion-MNIST is not here: {exc}")
    path = tmp_path / "fashion.html"
    export_html(ROOT / "checkpoints" / "fashion-mnist-2d.pt", path)
    context, page, requests = open_offline(chromium, path)
    assert requests == [path.as_uri()]
    legend = page.locator(".vlp-legend button").all_inner_texts()
    assert [t.strip() for t in legend] == list(vae.datasets.FASHION_MNIST.class_names)
    assert "Fashion-MNIST" in page.locator("#facts").inner_text()
    for fx in np.linspace(0.3, 0.7, 41):
        hover(page, fx, 0.5)
        dot = page.locator(".vlp-dot")
        if dot.get_attribute("data-index") and "empty" not in dot.get_attribute("class"):
            break
    index = int(page.locator(".vlp-dot").get_attribute("data-index"))
    page.wait_for_timeout(300)
    shown = np.asarray(page.locator(".vlp-dotimg").evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)"), float)
    item = images[index].numpy().astype(float)
    # lossy WebP: close to this item, far from the MNIST digit of the same index
    assert np.abs(shown.reshape(28, 28) - item).mean() < 8
    assert np.abs(shown.reshape(28, 28) - load_dataset("test", None)[0][index].numpy()).mean() > 20
    assert vae.datasets.FASHION_MNIST.class_names[int(labels[index])] in page.locator(".vlp-dotinfo").inner_text()
    context.close()


def luminance(rgb) -> float:
    def linear(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.slow
def test_the_dark_theme_is_dark_and_readable_and_fullscreen_shows_plane_and_preview(chromium, files):
    context, page, _ = open_offline(chromium, files["mnist"][0])
    page.select_option("#theme", "dark")
    page.wait_for_timeout(300)
    corner = page.locator(".vlp-plane").evaluate("(c) => Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data)")
    colours = page.locator(".vlp").evaluate("""(e) => { const s = getComputedStyle(e);
        return [s.getPropertyValue('--vlp-surface'), s.getPropertyValue('--vlp-tick')]; }""")
    tick = [int(colours[1].strip()[i:i + 2], 16) for i in (1, 3, 5)]
    surface, text = luminance(corner[:3]), luminance(tick)
    assert surface < 0.05                                          # a dark surface
    assert (text + 0.05) / (surface + 0.05) >= 4.5                 # WCAG AA contrast for the ticks' text
    page.locator(".vlp-full").click()
    page.wait_for_function("() => document.fullscreenElement && document.fullscreenElement.classList.contains('vlp')")
    page.wait_for_timeout(300)
    plane, preview = page.locator(".vlp-planewrap").bounding_box(), page.locator(".vlp-preview").bounding_box()
    height = page.evaluate("() => innerHeight")
    assert plane["height"] >= 0.85 * height - 80 and preview["width"] >= 150
    assert preview["y"] + preview["height"] <= height
    context.close()


@pytest.mark.slow
def test_a_browser_without_what_the_file_needs_says_so_in_one_line(chromium, files):
    context = chromium.new_context()
    context.add_init_script("delete window.DecompressionStream;")
    page = context.new_page()
    page.goto(files["mnist"][0].as_uri())
    line = page.locator("#unsupported")
    line.wait_for(state="visible")
    assert "DecompressionStream" in line.inner_text() and "\n" not in line.inner_text().strip()
    context.close()


@pytest.mark.slow
def test_the_latent_pages_download_button_gives_the_same_kind_of_file(page, server, tmp_path):
    from harness import open_plane

    open_plane(page, server.url)
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name="Download this explorer").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "mnist-2d-latent-explorer.html"
    assert path.read_bytes()[:2] == b"\xff\xfe" and 4_000_000 < path.stat().st_size <= 6_000_000
    context = page.context.browser.new_context()
    context.set_offline(True)
    opened = context.new_page()
    opened.goto(path.as_uri())
    opened.wait_for_function(READY, timeout=60_000)
    assert "MNIST" in opened.locator("#facts").inner_text()
    context.close()

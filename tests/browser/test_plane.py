"""The latent plane in Chromium: the decoder runs in the browser under the pointer and agrees with
torch, zoom, pins by click, tap and keys go back to Python, the URL keeps the view, every screen size
fits, and a browser that cannot decode falls back to the server."""
import base64

import numpy as np
import pytest
import torch

import vae
import vae.data
import vae.inference
import vae.web
from harness import (PLANE, PREVIEW, ROOT, AppServer, darkest_near, hover_plane, latent_at, open_app, open_phone_plane,
                     open_plane, page_point, pin_plane, pinned_point, plane_box, plane_view, preview, settle,
                     wait_until_idle, zoom_wheel)
from vae.webdecoder import reference_decode, web_decoder

PIXEL_TOLERANCE = 2 / 255
RING_DARKNESS = 60            # the pin's ring is black; dots and background are lighter
# Hover-decodes-as-torch and click-pins run in `make test` as the browser's smoke test; the rest
# (zoom, touch, links, screen sizes, fallbacks) are marked slow and run in `make test-slow`.


@pytest.fixture(scope="module")
def shipped():
    return vae.load_checkpoint(ROOT / "checkpoints" / "mnist-2d.pt")[0]


def torch_decoding(model, z) -> np.ndarray:
    return reference_decode(model, np.asarray([z], dtype=np.float32))[0]


def assert_preview_is_torch(model, z, pixels) -> None:
    # The canvas holds round(255 p): a pixel may differ from torch's p by half a grey level plus float error.
    assert np.abs(pixels - torch_decoding(model, z)).max() <= PIXEL_TOLERANCE


def test_hovering_decodes_the_point_under_the_pointer_as_torch_does(page, server, shipped):
    open_plane(page, server.url)
    seen = []
    for fx, fy in [(0.12, 0.1), (0.5, 0.5), (0.8, 0.7)]:            # empty corner, the crowded centre, a cluster
        expected, (z, pixels) = hover_plane(page, fx, fy)
        unit = (plane_view(page)[1] - plane_view(page)[0]) / plane_box(page)["width"]     # one pixel in z
        assert z is not None and abs(z[0] - expected[0]) < 2 * unit and abs(z[1] - expected[1]) < 2 * unit
        assert_preview_is_torch(shipped, z, pixels)
        seen.append(pixels)
    assert np.abs(seen[0] - seen[1]).mean() > 0.02 and np.abs(seen[1] - seen[2]).mean() > 0.02


@pytest.mark.slow
def test_hovering_a_dot_shows_that_test_digit(page, server, mnist_test):
    open_plane(page, server.url)
    index = 0
    for fx in np.linspace(0.3, 0.7, 9):                             # sweep until the pointer meets a dot
        page.mouse.move(*page_point(page, fx, 0.5), steps=2)
        settle(page)
        dot = page.locator(".vlp-dot").first
        if dot.get_attribute("data-index") and "empty" not in dot.get_attribute("class"):
            index = int(dot.get_attribute("data-index"))
            break
    else:
        pytest.fail("no dot was found under the pointer across the centre of the plane")
    shown = np.asarray(page.locator(".vlp-dotimg").first.evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)"))
    images, labels = mnist_test
    assert (shown.reshape(28, 28) == images[index].numpy()).all()
    assert f"labelled {int(labels[index])}" in page.locator(".vlp-dotinfo").first.inner_text()


@pytest.mark.slow
def test_zoom_narrows_the_view_and_hover_still_decodes_the_right_point(page, server, shipped):
    open_plane(page, server.url)
    before = plane_view(page)
    page.mouse.move(*page_point(page, 0.55, 0.45))
    for _ in range(5):
        zoom_wheel(page, -240)                                       # Ctrl + wheel: zoom in around the pointer
        page.wait_for_timeout(50)
    after = plane_view(page)
    assert after[1] - after[0] < 0.5 * (before[1] - before[0])
    expected, (z, pixels) = hover_plane(page, 0.3, 0.6)
    assert z is not None and np.allclose(z, expected, atol=0.01 * (after[1] - after[0]))
    assert_preview_is_torch(shipped, z, pixels)
    page.get_by_role("button", name="Reset view").click()
    assert plane_view(page) == pytest.approx(before, abs=1e-3)


def test_a_click_pins_the_point_clicking_it_again_keeps_it_and_keys_move_it(page, server):
    open_plane(page, server.url)
    pin_plane(page, 0.25, 0.3)
    first = pinned_point(page)
    assert first == pytest.approx(latent_at(page, 0.25, 0.3), abs=0.01)
    assert darkest_near(page, *page_point(page, 0.25, 0.3)) < RING_DARKNESS
    page.mouse.click(*page_point(page, 0.25, 0.3))                   # the pinned point again
    page.wait_for_timeout(600)
    wait_until_idle(page)
    assert pinned_point(page) == pytest.approx(first, abs=0.01)
    assert darkest_near(page, *page_point(page, 0.25, 0.3)) < RING_DARKNESS
    view = plane_view(page)
    page.locator(".vlp-plane").first.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(800)                                        # keys settle, then one rerun
    wait_until_idle(page)
    moved = pinned_point(page)
    assert moved[0] == pytest.approx(first[0] + 3 * 0.02 * (view[1] - view[0]), abs=0.01)
    assert moved[1] == pytest.approx(first[1], abs=0.01)
    assert page.locator(".vlp-plane").first.get_attribute("aria-label").startswith("Latent plane")


@pytest.mark.slow
def test_the_link_restores_model_and_pinned_point(page, server):
    open_plane(page, server.url)
    pin_plane(page, 0.7, 0.2)
    pinned = pinned_point(page)
    assert "model=mnist-2d" in page.url and "z=" in page.url
    second = page.context.new_page()
    link = page.url[len(server.url):]
    assert link.startswith("/latent?")
    open_plane(second, server.url, link)
    assert pinned_point(second) == pytest.approx(pinned, abs=1e-3)
    assert darkest_near(second, *page_point(second, 0.7, 0.2)) < RING_DARKNESS
    second.close()


@pytest.mark.slow
def test_a_manifold_tile_click_pins_its_point(page, server):
    open_plane(page, server.url)
    manifold = page.locator(".vlp-manifold").first
    manifold.scroll_into_view_if_needed()
    page.locator(".vlp-manifold[data-done]").first.wait_for()          # every tile decoded
    box = manifold.bounding_box()
    before = pinned_point(page)
    page.mouse.click(box["x"] + box["width"] * 0.025, box["y"] + box["height"] * 0.025)   # the top-left tile
    for _ in range(100):
        if pinned_point(page) != before:
            break
        page.wait_for_timeout(50)
    x0, x1, y0, y1 = plane_view(page)
    assert pinned_point(page) == pytest.approx((x0 + (x1 - x0) / 40, y1 - (y1 - y0) / 40), abs=0.01)


@pytest.mark.slow
def test_parity_with_torch_on_64_points_for_both_architectures(chromium, shipped):
    torch.manual_seed(0)
    conv = vae.VAE(vae.ModelConfig(arch="conv", hidden=64, channels=8, activation="elu")).eval()
    with torch.no_grad():                                            # weights large enough for varied digits
        for parameter in conv.decoder.parameters():
            parameter.mul_(3)
    source = vae.web.bundle("decoder.js")                           # an ES module, joined with what it imports
    page = chromium.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=source + "\nwindow.VaeDecoder = VaeDecoder; window.vaeHalfToFloat = vaeHalfToFloat;")
    for model in (shipped, conv):
        decoder = web_decoder(model)
        z = np.random.default_rng(1).normal(0, 2, (64, model.latent_dim)).astype(np.float32)
        pixels = page.evaluate("""([layers, weights, z, latent]) => {
            const bytes = Uint8Array.from(atob(weights), (c) => c.charCodeAt(0));
            const decoder = new VaeDecoder(layers, vaeHalfToFloat(bytes), latent);
            return Array.from(decoder.decode(new Float32Array(z), z.length / latent)); }""",
            [decoder.layers, base64.b64encode(decoder.weights).decode(), z.ravel().tolist(), model.latent_dim])
        expected = reference_decode(model, z)
        assert expected.std() > 0.1, "the reference decodings are flat: the check would prove little"
        difference = np.abs(np.asarray(pixels).reshape(64, 28, 28) - expected).max()
        assert difference <= PIXEL_TOLERANCE, f"{model.config.arch}: {difference * 255:.3f}/255"
    page.close()


@pytest.mark.slow
def test_every_float16_becomes_the_float_numpy_makes_of_it(chromium):
    """decoder.js turns the weights' float16 bit patterns into floats through a table: all 65,536 of them,
    against numpy's conversion (subnormals, both zeros, infinities and NaNs included)."""
    page = chromium.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=vae.web.bundle("decoder.js") + "\nwindow.vaeHalfToFloat = vaeHalfToFloat;")
    patterns = np.arange(65536, dtype="<u2")
    values = page.evaluate("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        return Array.from(vaeHalfToFloat(bytes), (v) => Number.isNaN(v) ? "nan" : Object.is(v, -0) ? "-0" : v); }""",
        base64.b64encode(patterns.tobytes()).decode())
    page.close()
    expected = patterns.view(np.float16).astype(np.float32)
    nan = np.asarray([v == "nan" for v in values])
    assert (nan == np.isnan(expected)).all() and nan.sum() == 2046
    negative_zero = np.asarray([v == "-0" for v in values])
    assert negative_zero.sum() == 1 and np.signbit(expected[negative_zero]).all()
    got = np.asarray([0.0 if isinstance(v, str) else v for v in values], dtype=np.float64)
    assert (got[~nan] == expected[~nan]).all()


@pytest.mark.slow
def test_a_touch_tap_pins_the_tapped_point(chromium, server):
    context, page = open_phone_plane(chromium, server.url)
    for fx, fy in [(0.3, 0.35), (0.7, 0.6)]:
        pin_plane(page, fx, fy, tap=True)
        assert pinned_point(page) == pytest.approx(latent_at(page, fx, fy), abs=0.02)
        z, _ = preview(page)
        assert z == pytest.approx(latent_at(page, fx, fy), abs=0.02)
    context.close()


VIEWPORTS = {"desktop": (1400, 1000), "laptop": (1024, 768), "phone": (414, 896)}


@pytest.mark.slow
@pytest.mark.parametrize("name", VIEWPORTS)
def test_every_screen_size_fits_without_overflow_or_overlap(chromium, server, name):
    width, height = VIEWPORTS[name]
    context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=name == "phone")
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_plane(page, server.url)
    overflow = "() => document.documentElement.scrollWidth <= innerWidth"
    assert page.evaluate(overflow)
    plane, shown = plane_box(page), page.locator(PREVIEW).first.bounding_box()
    assert plane["width"] >= (300 if name != "phone" else 0.85 * width)
    page.locator(PLANE).first.evaluate("(plane) => plane.scrollIntoView({block: 'start'})")   # the plane at the top
    plane, shown = plane_box(page), page.locator(PREVIEW).first.bounding_box()
    assert shown["y"] + shown["height"] <= height and shown["x"] + shown["width"] <= width, \
        "the live preview is not on screen with the plane"
    assert plane["y"] + 0.5 * plane["height"] >= 0                   # and the plane is, too
    open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
    page.get_by_text("A test digit").click()
    page.locator(PLANE).first.wait_for()
    wait_until_idle(page)
    assert page.evaluate(overflow)
    boxes = [image.bounding_box() for image in page.locator('[data-testid="stImage"]').all()]
    for i, a in enumerate(boxes):
        assert a["x"] + a["width"] <= width
        for b in boxes[i + 1:]:
            apart = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or \
                a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
            assert apart, f"two images overlap at {width}×{height}: {a} {b}"
    context.close()


@pytest.mark.slow
def test_when_the_weights_do_not_load_the_plane_decodes_on_the_server(chromium, server):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    # The decoder's file never arrives (a proxy that drops it, a server that lost it).
    context.route("**/app/static/*", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_app(page, f"{server.url}/latent", PLANE)
    message = page.locator(".vlp-msg").first
    message.wait_for()
    page.wait_for_function("""() => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&
        (e.shadowRoot.querySelector('.vlp-msg.shown') || {}).textContent)""")
    assert "Decoding in the browser is off" in message.inner_text()
    wait_until_idle(page)
    page.get_by_text("The learned manifold (decoded on the server)").wait_for()
    pin_plane(page, 0.3, 0.3)
    assert pinned_point(page) == pytest.approx(latent_at(page, 0.3, 0.3), abs=0.01)
    page.wait_for_timeout(300)
    z, pixels = preview(page)
    assert z == pytest.approx(pinned_point(page), abs=1e-3) and pixels.std() > 0.05
    context.close()


@pytest.mark.slow
def test_a_four_dimensional_model_decodes_its_pca_plane_in_the_browser(chromium, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = vae.VAE(vae.ModelConfig(latent_dim=4, hidden=64)).eval()
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.mul_(3)
    path = tmp_path / "z4.pt"
    vae.save_checkpoint(path, model, {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv("VAE_CHECKPOINT", str(path))
    with AppServer(tmp_path / "runs", tmp_path / "log") as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        open_plane(page, server.url, "/latent?dims=pca")
        page.get_by_text("PCA view").first.wait_for()
        model, _ = vae.load_checkpoint(path)
        encodings = vae.inference.encode_dataset(model, vae.data.load_mnist("test")[0])
        basis, _ = vae.inference.pca_basis(encodings)
        expected, (z, pixels) = hover_plane(page, 0.15, 0.3)             # x < 0 < y: swapping them shows
        assert z == pytest.approx(expected, abs=0.05)
        assert_preview_is_torch(model, basis.to_latent([z])[0], pixels)
        swapped = basis.origin + z[0] * basis.v + z[1] * basis.u
        assert np.abs(torch_decoding(model, swapped) - pixels).max() > 4 * PIXEL_TOLERANCE, \
            "the check cannot tell the plane's axes apart"
        page.close()


@pytest.mark.slow
def test_drag_pans_shift_drag_zooms_to_the_box_and_the_manifold_follows(page, server):
    open_plane(page, server.url)
    x0, x1, y0, y1 = plane_view(page)
    width = x1 - x0
    start, end = page_point(page, 0.5, 0.5), page_point(page, 0.25, 0.5)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()
    panned = plane_view(page)                                  # dragged left by a quarter: the view moved right
    assert panned[0] == pytest.approx(x0 + width / 4, abs=0.02 * width)
    assert panned[1] - panned[0] == pytest.approx(width, rel=1e-3) and panned[2] == pytest.approx(y0, abs=1e-3)
    corner_a, corner_b = latent_at(page, 0.2, 0.2), latent_at(page, 0.6, 0.6)
    page.keyboard.down("Shift")
    page.mouse.move(*page_point(page, 0.2, 0.2))
    page.mouse.down()
    page.mouse.move(*page_point(page, 0.6, 0.6), steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    boxed = plane_view(page)
    assert boxed[1] - boxed[0] == pytest.approx(corner_b[0] - corner_a[0], rel=0.02)
    assert (boxed[0] + boxed[1]) / 2 == pytest.approx((corner_a[0] + corner_b[0]) / 2, abs=0.01 * width)
    caption = page.locator(".vlp-manifold-caption").first
    page.wait_for_function("""([lo]) => [...document.querySelectorAll('*')].some((e) => e.shadowRoot &&
        (e.shadowRoot.querySelector('.vlp-manifold-caption') || {}).textContent?.includes('from ' + lo))""",
                           arg=[f"{boxed[0] + (boxed[1] - boxed[0]) / 40:.2f}"])
    assert "decodings of the visible square" in caption.inner_text()

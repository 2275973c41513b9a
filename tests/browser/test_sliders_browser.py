"""The shipped 16-dimensional MNIST model in Chromium: one slider per latent dimension under the plane,
each with its KL and its traversal (that dimension from −3 to +3 around the point). Everything the
browser draws is compared with torch's decoder on the same float16 weights; the sliders, the pin and the
plane's origin are one point."""
import re

import numpy as np
import pytest
import torch

import vae
from harness import ROOT, hover_plane, open_plane, pinned_point, wait_traversals, wait_until_idle
from vae import data
from vae.inference import dimension_kl
from vae.webdecoder import reference_decode

pytestmark = pytest.mark.slow            # `make test-slow`: whole pages in Chromium

MODEL = ROOT / "checkpoints" / "mnist-16d.pt"
STEPS = (-3, -2, -1, 0, 1, 2, 3)         # vae/web/sliders.js TRAVERSAL
TOLERANCE = 2 / 255                      # the browser's float32 against torch's, on 8-bit pixels


@pytest.fixture(scope="module")
def model():
    if not MODEL.is_file():
        pytest.fail(f"the shipped 16-D model {MODEL} is missing")
    return vae.load_checkpoint(MODEL)[0]


def sliders_point(page) -> np.ndarray:
    return np.asarray([float(v) for v in page.locator(".vlp-dims").first.get_attribute("data-z").split(",")])


def canvas_grey(page, selector: str, nth: int = 0) -> np.ndarray:
    """A canvas's pixels as grey levels in [0, 1], (height, width)."""
    shown = page.locator(selector).nth(nth).evaluate("""(c) => ({w: c.width, h: c.height,
        px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).filter((_, i) => i % 4 === 0)})""")
    return np.asarray(shown["px"], dtype=np.float32).reshape(shown["h"], shown["w"]) / 255


def open_sliders(page, url: str, query: str = "") -> None:
    open_plane(page, url, f"/latent?model=mnist-16d{query}")
    page.locator(".vlp-dims .vlp-dim input").first.wait_for()
    wait_traversals(page)


def slide(page, dim: int, value: float) -> None:
    """Move slider `dim` to `value` as a user's drag ends there (an input event)."""
    page.locator(".vlp-dims .vlp-dim input").nth(dim).fill(str(value))


def test_each_dimension_has_a_slider_with_its_kl(page, server, model):
    open_sliders(page, server.url)
    rows = page.locator(".vlp-dims .vlp-dim[data-dim]")
    assert rows.count() == model.latent_dim == 16
    images, _ = data.load_dataset("test", fetch=False)
    kl = dimension_kl(model, images)
    shown = [float(re.search(r"[0-9.]+", t).group()) for t in page.locator(".vlp-dim-kl").all_inner_texts()]
    np.testing.assert_allclose(shown, kl, atol=0.006)                      # two decimals, the KL per dimension
    inactive = [i for i in range(16) if "vlp-dim-inactive" in rows.nth(i).get_attribute("class")]
    assert inactive == [i for i in range(16) if kl[i] < 0.05]
    assert "vlp-dim-axis" in rows.nth(0).get_attribute("class") and "vlp-dim-axis" in rows.nth(1).get_attribute("class")


def test_a_slider_changes_the_decoding_as_torch_draws_it(page, server, model):
    open_sliders(page, server.url)
    before = sliders_point(page)
    np.testing.assert_allclose(before, 0, atol=1e-6)                       # the pin at the origin, others at 0
    first = canvas_grey(page, ".vlp-dims-preview")
    assert np.abs(first - reference_decode(model, before[None].astype(np.float32))[0]).max() <= TOLERANCE
    slide(page, 5, 2.5)
    after = sliders_point(page)
    assert after[5] == pytest.approx(2.5) and np.allclose(np.delete(after, 5), np.delete(before, 5))
    moved = canvas_grey(page, ".vlp-dims-preview")
    expected = reference_decode(model, after[None].astype(np.float32))[0]
    assert np.abs(moved - expected).max() <= TOLERANCE
    assert np.abs(moved - first).max() > 0.2                               # the drawing did change


def test_the_traversal_grid_is_torchs(page, server, model):
    open_sliders(page, server.url)
    slide(page, 3, -1.25)
    wait_traversals(page)
    z = sliders_point(page)
    points = np.repeat(z[None], 16 * len(STEPS), 0).astype(np.float32)
    for i in range(16):
        for s, step in enumerate(STEPS):
            points[i * len(STEPS) + s, i] = z[i] + step
    expected = reference_decode(model, points).reshape(16, len(STEPS), 28, 28)
    for i in range(16):
        row = canvas_grey(page, ".vlp-dim-traversal", i)
        assert row.shape == (28, 28 * len(STEPS))
        shown = row.reshape(28, len(STEPS), 28).transpose(1, 0, 2)
        assert np.abs(shown - expected[i]).max() <= TOLERANCE, f"row z{i}"


def test_the_pin_follows_the_sliders_of_the_planes_dimensions(page, server, model):
    open_sliders(page, server.url)
    slide(page, 1, 1.5)                                                    # z1: the plane's vertical axis
    page.wait_for_function("() => /z=0.0000%2C1.5000/.test(location.search)", timeout=20_000)
    wait_until_idle(page)
    assert pinned_point(page) == pytest.approx((0.0, 1.5))                 # Python has it, and the link
    slide(page, 7, -2.0)                                                   # another dimension: the pin stays…
    page.wait_for_timeout(800)
    wait_until_idle(page)
    assert pinned_point(page) == pytest.approx((0.0, 1.5))
    page.locator(".vlp-plane").first.scroll_into_view_if_needed()
    (x, y), (shown, pixels) = hover_plane(page, 0.3, 0.6)                  # …and the plane decodes around it
    assert shown == pytest.approx((x, y), abs=0.02)                        # the pointer's point, not the pin's
    z = np.zeros(16, np.float32)
    z[0], z[1], z[7] = shown[0], shown[1], -2.0
    assert np.abs(pixels - reference_decode(model, z[None])[0]).max() <= TOLERANCE
    page.mouse.click(*_plane_point(page, 0.7, 0.4))                        # a pin on the plane: the sliders follow
    page.wait_for_function("(box) => Math.abs(Number(box.dataset.z.split(',')[7]) + 2) < 1e-4 && "
                           "Math.abs(Number(box.dataset.z.split(',')[1]) - 1.5) > 1e-3",
                           arg=page.locator(".vlp-dims").first.element_handle(), timeout=20_000)
    wait_until_idle(page)
    point = sliders_point(page)
    assert tuple(point[:2]) == pytest.approx(pinned_point(page), abs=1e-3)
    assert point[7] == pytest.approx(-2.0)
    page.wait_for_function("() => /origin=[^&]*%2C-2.0000/.test(location.search)", timeout=20_000)
    link = page.url
    page.goto("about:blank")                                               # the link keeps the whole point
    open_plane(page, link, "")
    page.locator(".vlp-dims .vlp-dim input").first.wait_for()
    np.testing.assert_allclose(sliders_point(page), point, atol=2e-4)


def _plane_point(page, fx: float, fy: float) -> tuple[float, float]:
    box = page.locator(".vlp-plane").first.bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def test_the_sliders_start_at_a_chosen_test_images_code(page, server, model):
    open_sliders(page, server.url)
    field = page.get_by_role("spinbutton", name="Set the sliders to test image #")
    field.fill("42")
    field.press("Enter")
    page.wait_for_function("(box) => Math.abs(Number(box.dataset.z.split(',')[2])) > 1e-3",
                           arg=page.locator(".vlp-dims").first.element_handle(), timeout=30_000)
    wait_until_idle(page)
    images, _ = data.load_dataset("test", fetch=False)
    with torch.no_grad():
        mean = model.encode(images[42:43].float().div(255))[0][0].numpy()
    np.testing.assert_allclose(sliders_point(page), mean, atol=2e-4)
    assert pinned_point(page) == pytest.approx(tuple(mean[:2]), abs=1e-3)


def test_the_exported_file_has_the_sliders_too(chromium, tmp_path, model):
    """python -m vae export-html of the 16-D model: opened from disk with the network off, the same sliders
    and traversals, decoded as torch does."""
    from test_export_browser import open_offline

    from vae.export import export_html

    export_html(MODEL, tmp_path / "m16.html")
    context, page, requests = open_offline(chromium, tmp_path / "m16.html")
    assert page.locator(".vlp-dims .vlp-dim[data-dim]").count() == 16
    slide(page, 9, -1.5)
    z = sliders_point(page)
    assert z[9] == pytest.approx(-1.5)
    shown = canvas_grey(page, ".vlp-dims-preview")
    assert np.abs(shown - reference_decode(model, z[None].astype(np.float32))[0]).max() <= TOLERANCE
    wait_traversals(page)
    row = canvas_grey(page, ".vlp-dim-traversal", 9).reshape(28, len(STEPS), 28).transpose(1, 0, 2)
    points = np.repeat(z[None], len(STEPS), 0).astype(np.float32)
    points[:, 9] += np.asarray(STEPS, np.float32)
    assert np.abs(row - reference_decode(model, points)).max() <= TOLERANCE
    assert all(url.startswith("file:") or url.startswith("data:") for url in requests)
    context.close()

"""The shipped Fashion-MNIST model in Chromium at 1400 and 1024 px: the plane shows Fashion-MNIST's
test items under their class names, the decoder runs in the browser, and the Reconstruct page offers
test items and drawing."""
import numpy as np
import pytest

import vae
import vae.inference
from harness import ROOT, hover_plane, open_app, open_plane, page_point, settle, wait_until_idle
from vae import data
from vae.datasets import FASHION_MNIST
from vae.webdecoder import reference_decode

pytestmark = pytest.mark.slow            # `make test-slow`: whole pages in Chromium, seconds each

FASHION = ROOT / "checkpoints" / "fashion-mnist-2d.pt"
WIDTHS = [1400, 1024]


@pytest.fixture(scope="module")
def fashion():
    if not FASHION.is_file():
        pytest.fail(f"the shipped Fashion-MNIST model {FASHION} is missing")
    try:
        images, labels = data.load_dataset("test", dataset=FASHION_MNIST, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    return vae.load_checkpoint(FASHION)[0], images, labels


@pytest.mark.parametrize("width", WIDTHS)
def test_the_plane_shows_fashion_items_by_class_name_and_decodes_them(page, server, fashion, width):
    model, images, labels = fashion
    page.set_viewport_size({"width": width, "height": 1000})
    open_plane(page, server.url, "/latent?model=fashion-mnist-2d")
    legend = page.locator(".vlp-bar button").all_inner_texts()
    assert [t.strip() for t in legend[:10]] == list(FASHION_MNIST.class_names)
    assert page.evaluate("document.documentElement.scrollWidth") <= width          # nothing spills sideways
    expected, (z, pixels) = hover_plane(page, 0.5, 0.45)
    assert z is not None
    torch_pixels = reference_decode(model, np.asarray([z], dtype=np.float32))[0]
    assert np.abs(pixels - torch_pixels).max() <= 2 / 255                           # the fashion decoder, in the browser
    for fx in np.linspace(0.3, 0.7, 17):                                           # a dot: its index and class name
        page.mouse.move(*page_point(page, fx, 0.5), steps=2)
        settle(page)
        dot = page.locator(".vlp-dot").first
        if dot.get_attribute("data-index") and "empty" not in dot.get_attribute("class"):
            index = int(dot.get_attribute("data-index"))
            text = page.locator(".vlp-dotinfo").first.inner_text()
            assert f"test item #{index}" in text and FASHION_MNIST.class_names[int(labels[index])] in text
            page.wait_for_function("() => window.__vaeLatentCache && [...window.__vaeLatentCache.blobs.keys()]"
                                   ".some((key) => key.startsWith('fashion-mnist-test-'))")
            page.mouse.move(*page_point(page, fx, 0.5), steps=1)                   # drawn again, images held
            settle(page)
            shown = np.asarray(page.locator(".vlp-dotimg").first.evaluate(
                "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)"))
            assert np.array_equal(shown.reshape(28, 28), images[index].numpy())       # the item, not an MNIST digit
            break
    else:
        pytest.fail("no dot was found under the pointer across the centre of the plane")


@pytest.mark.parametrize("width", WIDTHS)
def test_reconstruct_offers_a_fashion_model_test_items_and_drawing(page, server, fashion, width):
    page.set_viewport_size({"width": width, "height": 1000})
    open_app(page, server.url + "/reconstruct?model=fashion-mnist-2d", '[data-testid="stRadio"]')
    radio = page.locator('[data-testid="stRadio"]').first
    assert "Upload a picture" not in radio.inner_text() and "A test item" in radio.inner_text()
    assert "Uploads are for digit models" in page.locator('[data-testid="stAlertContentInfo"]').first.inner_text()
    radio.get_by_text("A test item").click()
    wait_until_idle(page)
    page.get_by_text("labelled Ankle boot").first.wait_for(timeout=60_000)        # Zalando's first test item

"""One tab, two datasets: the plane's cached decoder and test images are keyed by model and dataset,
so switching the model menu from MNIST to Fashion-MNIST shows Fashion-MNIST's item for the same
dot index, not the MNIST digit the tab held before (issue 16: "the wrong dataset's images")."""
import numpy as np
import pytest

from harness import MODEL_MENU, open_plane, page_point, settle, wait_for_decoder, wait_until_idle
from vae import data
from vae.datasets import FASHION_MNIST, MNIST

pytestmark = pytest.mark.slow


def dot_under_pointer(page) -> tuple[int, np.ndarray]:
    """Sweep across the plane until the pointer is on a dot whose image is drawn: (index, its pixels)."""
    for fx in np.linspace(0.3, 0.7, 41):
        page.mouse.move(*page_point(page, fx, 0.5), steps=1)
        settle(page)
        dot = page.locator(".vlp-dot").first
        if dot.get_attribute("data-index") and "empty" not in dot.get_attribute("class"):
            shown = page.locator(".vlp-dotimg").first.evaluate(
                "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)")
            return int(dot.get_attribute("data-index")), np.asarray(shown).reshape(28, 28)
    pytest.fail("no dot with its image was found under the pointer across the centre of the plane")


def test_switching_the_model_in_one_tab_shows_the_new_datasets_images(page, server):
    try:
        fashion, _ = data.load_dataset("test", dataset=FASHION_MNIST, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    digits, _ = data.load_dataset("test", dataset=MNIST, fetch=False)
    open_plane(page, server.url)
    page.wait_for_function("() => [...window.__vaeLatentCache.blobs.keys()].some((k) => k.startsWith('mnist-test-'))")
    index, shown = dot_under_pointer(page)
    assert np.array_equal(shown, digits[index].numpy())

    page.locator(f'{MODEL_MENU} [data-testid="stSelectbox"]').first.click()   # the model menu
    page.get_by_role("option", name="fashion-mnist-2d").first.click()
    wait_until_idle(page)
    page.locator(".vlp-legend button", has_text="Ankle boot").first.wait_for()
    wait_for_decoder(page)
    page.wait_for_function("() => [...window.__vaeLatentCache.blobs.keys()].some((k) => k.startsWith('fashion-mnist-test-'))")
    index, shown = dot_under_pointer(page)
    assert np.array_equal(shown, fashion[index].numpy())              # the Fashion item, byte for byte
    assert not np.array_equal(shown, digits[index].numpy())

"""The ELBO page in Chromium: its formulas fit a laptop's and a phone's window, its plane shows the
posterior's ellipse larger than the cross on z, and the plane's panel decodes z."""
import time

import numpy as np
import pytest
import torch

import vae
from app_pages import catalog
from vae.data import load_mnist, to_float

from harness import open_app, open_plane, preview, settle, wait_until_idle

pytestmark = pytest.mark.slow

# Each KaTeX formula: the width its typeset content needs and the width of the element Streamlit gives it.
FORMULA_WIDTHS = """() => [...document.querySelectorAll('.katex-display')].map((display) => {
  const katex = display.querySelector('.katex'), html = katex.querySelector('.katex-html');
  return {tex: katex.querySelector('annotation').textContent,
          needs: Math.max(display.scrollWidth, katex.scrollWidth, html.scrollWidth, html.getBoundingClientRect().width),
          has: display.closest('[data-testid="stElementContainer"]').getBoundingClientRect().width};
})"""


@pytest.mark.parametrize("width, height", [(1024, 768), (414, 896)])
def test_the_formulas_fit_the_window(chromium, server, width, height):
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_app(page, f"{server.url}/elbo", ".katex-display")
        formulas = page.evaluate(FORMULA_WIDTHS)
    finally:
        context.close()
    assert len(formulas) == 4
    clipped = [(f["tex"][:50], round(f["needs"]), round(f["has"])) for f in formulas if f["needs"] > f["has"] + 0.5]
    assert clipped == []


def test_the_planes_panel_decodes_z_and_follows_each_draw(page, server):
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    x = to_float(load_mnist("test")[0][0]).reshape(1, 1, 28, 28)            # the page opens on test digit #0
    with torch.no_grad():
        mean, logvar = model.encode(x)
    open_plane(page, server.url, "/elbo")
    before = None
    for draw in (0, 1):
        if draw:
            page.get_by_role("button", name="Draw another ε").click()
            wait_until_idle(page)
            # the run may end a frame before the plane has taken its new z: wait for the preview to change
            deadline = time.time() + 20
            while preview(page)[0] == before and time.time() < deadline:
                page.wait_for_timeout(20)
        settle(page)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=torch.Generator().manual_seed(draw))
        shown, pixels = preview(page)
        before = shown
        assert shown == pytest.approx(z[0].tolist(), abs=1e-4)
        with torch.no_grad():
            expected = torch.sigmoid(model.decode_logits(z))[0, 0].numpy()
        assert np.abs(pixels - expected).max() < 0.02


# The bounding box, in CSS pixels, of the overlay's pixels in the ellipse's translucent fill
# (rgba(214, 39, 40, 0.12), vae/web/draw.js), whose only other source is the antialiased edge of the cross.
ELLIPSE_BOX = """(canvas) => {
  const scale = canvas.width / canvas.clientWidth;
  const {data, width, height} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < width * height; i++) {
    const [r, g, b, a] = data.subarray(4 * i, 4 * i + 4);
    if (a >= 15 && a <= 50 && r > g + 80 && r > b + 80) {
      const x = i % width, y = Math.floor(i / width);
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  return [(x1 - x0) / scale, (y1 - y0) / scale];
}"""


@pytest.mark.parametrize("width, height", [(1400, 1000), (414, 896)])
def test_the_posteriors_ellipse_is_larger_than_the_cross_on_z(chromium, server, width, height):
    """The cross on z is 16 px across (21 with its halo); μ ± 2σ of test digit #0 (σ ≈ 0.05 in a plane 7.5
    units wide) was 6 to 10 px, hidden under it."""
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_plane(page, server.url, "/elbo")
        settle(page)
        box = page.locator(".vlp-overlay").first.evaluate(ELLIPSE_BOX)
    finally:
        context.close()
    assert max(box) >= 48, box

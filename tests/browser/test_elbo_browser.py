"""The ELBO page in Chromium: its formulas fit a laptop's and a phone's window."""
import pytest

from harness import open_app

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

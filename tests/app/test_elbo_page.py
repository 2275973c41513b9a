"""The ELBO page: its formulas follow its widgets, and its plane shows this digit's z and posterior."""
import re

from test_pages import messages


def test_the_last_formula_shows_the_sliders_beta(open_page):
    app = open_page("app_pages/elbo.py")
    for beta in (3.0, 0.5, 1.0):
        app.slider(key="elbo_beta").set_value(beta).run()
        assert messages(app) == {"exception": [], "error": []}
        written = re.findall(r"\\beta\s*&?=\s*([0-9.]+)", app.latex[-1].value)
        assert [float(v) for v in written] == [beta], app.latex[-1].value

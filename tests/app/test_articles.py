"""A dataset's item noun takes its own article: "an item" (Fashion-MNIST), "a digit" (MNIST)."""
import re

import pytest

from test_fashion_pages import fashion_model  # noqa: F401  (a fixture)
from test_pages import messages


def drawing_prompt(app) -> str:
    app.radio(key="source").set_value("Draw with the mouse").run()
    assert messages(app) == {"exception": [], "error": []}
    return next(i.value for i in app.info if i.value.startswith("Draw "))


def shown_text(app) -> str:
    return " ".join(e.value for kind in (app.markdown, app.caption, app.info, app.warning) for e in kind)


def test_the_fashion_drawing_prompt_says_an_item(open_page, fashion_model):  # noqa: F811
    app = open_page("app_pages/pages/reconstruct.py")
    assert drawing_prompt(app) == "Draw an item in the black square to see its reconstruction."
    assert not re.search(r"\ba item", shown_text(app))


def test_the_digit_drawing_prompt_says_a_digit(open_page):
    app = open_page("app_pages/pages/reconstruct.py")
    assert drawing_prompt(app) == "Draw a digit in the black square to see its reconstruction."


@pytest.mark.parametrize("page", ["app_pages/pages/reconstruct.py", "app_pages/pages/elbo.py", "app_pages/pages/latent.py"])
def test_no_page_writes_a_item(open_page, fashion_model, page):  # noqa: F811
    app = open_page(page)
    assert messages(app) == {"exception": [], "error": []}
    assert not re.search(r"\b[Aa] item", shown_text(app))

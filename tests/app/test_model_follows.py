"""The session's model follows the user from whatever page a link opened (issue 16): a link's ?model=
read on Home, then each page from the navigation, shows that model and writes it back to the link."""
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from vae import data
from vae.datasets import FASHION_MNIST

PAGES = ["app_pages/pages/latent.py", "app_pages/pages/reconstruct.py", "app_pages/pages/elbo.py",
         "app_pages/pages/train.py", "app_pages/pages/runs.py", "app_pages/pages/home.py",
         "app_pages/pages/latent.py"]


@pytest.mark.parametrize("first", ["app_pages/pages/home.py", "app_pages/pages/runs.py"])
def test_a_links_model_read_on_one_page_stays_on_every_other(runs_dir, monkeypatch, first):
    try:
        data.load_dataset("test", dataset=FASHION_MNIST, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    st.cache_data.clear()
    app = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=120)   # a session on Home…
    app.query_params["model"] = "fashion-mnist-2d"      # …that arrived with a link naming the Fashion model
    app.run()
    if first != "app_pages/pages/home.py":
        app.switch_page(first).run()
    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, (page, app.exception)
        assert app.selectbox(key="checkpoint").value.endswith("fashion-mnist-2d.pt"), page
        assert app.query_params["model"] in ("fashion-mnist-2d", ["fashion-mnist-2d"]), page

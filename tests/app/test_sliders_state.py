"""The sliders of a model with more than two latent dimensions (issue 20) move the plane's origin; what the
browser reports of it is untrusted, and the session, the link and the server's own drawings (the decoder's
map, the fallback decodings) follow the origin that was checked."""
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app_pages.plane import parse_held
from test_plane_state import errors, send

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "checkpoints" / "mnist-16d.pt"
VIEW = repr(("dims", 0, 1, None))            # the payload's view_key of the default view, z0 against z1


def payload(app) -> dict:
    return json.loads(app.get("bidi_component")[0].proto.json)


@pytest.fixture
def latent16(runs_dir, monkeypatch):
    if not MODEL.is_file():
        pytest.fail(f"the shipped 16-D model {MODEL} is missing")
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()

    def open_(**params) -> AppTest:
        app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        app.query_params["model"] = "mnist-16d"
        for name, value in params.items():
            app.query_params[name] = value
        app.run()
        app.switch_page("app_pages/pages/latent.py").run()
        assert errors(app) == []
        app.plane_id = app.get("bidi_component")[0].proto.id
        return app
    return open_


def test_the_payload_has_a_slider_per_dimension_with_its_kl(latent16):
    app = latent16()
    sliders = payload(app)["sliders"]
    assert len(sliders["kl"]) == 16 and all(k >= 0 for k in sliders["kl"])


def test_a_reported_origin_is_kept_for_its_view_without_its_plane_part(latent16):
    app = latent16()
    z = [0.5] * 16
    send(app, app.plane_id, json.dumps({"held": {"view": VIEW, "z": z}, "pin": {"x": 0.5, "y": 0.5}}))
    assert errors(app) == []
    origin = payload(app)["basis"]["origin"]
    assert origin[:2] == [0.0, 0.0] and origin[2:] == [0.5] * 14            # z0, z1 are the pin's
    assert app.query_params["origin"] == ",".join(["0.0000"] * 2 + ["0.5000"] * 14)
    send(app, app.plane_id, json.dumps({"held": {"view": repr(("dims", 0, 2, None)), "z": [9.0] * 16}}))
    assert payload(app)["basis"]["origin"][2:] == [0.5] * 14                # another view's report: not this one's


FORGED = {
    "too few": {"view": VIEW, "z": [1.0, 2.0]},
    "one too many": {"view": VIEW, "z": [0.0] * 17},
    "5,000 numbers": {"view": VIEW, "z": [0.0] * 5000},
    "a string": {"view": VIEW, "z": ["1"] * 16},
    "a boolean": {"view": VIEW, "z": [True] + [0.0] * 15},
    "past the bound": {"view": VIEW, "z": [1000.5] + [0.0] * 15},
    "no view": {"z": [0.0] * 16},
    "a long view": {"view": "x" * 501, "z": [0.0] * 16},
    "not a mapping": [[0.0] * 16],
}


@pytest.mark.parametrize("held", FORGED.values(), ids=FORGED.keys())
def test_a_forged_origin_changes_nothing(latent16, held):
    app = latent16()
    send(app, app.plane_id, json.dumps({"held": held}))
    assert errors(app) == []
    assert payload(app)["basis"]["origin"] == [0.0] * 16 and "origin" not in app.query_params


def test_nan_and_huge_numbers_are_not_numbers():
    for bad in (float("nan"), float("inf"), 1e308):
        assert parse_held({"view": VIEW, "z": [bad] + [0.0] * 15}) is None
    assert parse_held({"view": VIEW, "z": [1, -2.5, 3]}) == {"view": VIEW, "z": (1.0, -2.5, 3.0)}


def test_a_test_images_code_replaces_an_earlier_report(latent16):
    import vae
    from vae import data

    app = latent16()
    send(app, app.plane_id, json.dumps({"held": {"view": VIEW, "z": [0.5] * 16}}))
    app.number_input(key="slider_image").set_value(42).run()
    model = vae.load_checkpoint(MODEL)[0]
    images, _ = data.load_dataset("test", fetch=False)
    mean = model.encode(images[42:43].float().div(255))[0][0].detach().numpy()
    origin = np.asarray(payload(app)["basis"]["origin"])
    np.testing.assert_allclose(origin[2:], mean[2:], atol=1e-5)
    assert app.session_state["pin"].xy == pytest.approx(tuple(mean[:2]), abs=1e-5)
    app.run()                                                               # the browser's old report stays in its
    np.testing.assert_allclose(payload(app)["basis"]["origin"][2:], mean[2:], atol=1e-5)   # state: not taken again


def test_a_links_origin_is_read_and_a_bad_one_is_said_as_text(latent16):
    app = latent16(origin=",".join(["1.25"] * 16))
    assert payload(app)["basis"]["origin"] == [0.0, 0.0] + [1.25] * 14
    app = latent16(origin="[sign in](http://evil.example)")
    warning = [w.value for w in app.warning]
    said = next(w for w in warning if "sign in" in w)
    assert "\\[sign in\\]" in said and "](http" not in said               # escaped: no link is drawn
    assert payload(app)["basis"]["origin"] == [0.0] * 16

"""The Latent page's decoder's map through AppTest: the toggle sends the map of the visible square to
the plane component (checked against vae.inference.decoder_map), a zoom reported by the browser brings
the map of the new square, and the toggle lives in the URL."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import vae
from app_pages import catalog
from app_pages.plane import snap_square
from vae import inference
from vae.classifier import classifier_path, fused_for_inference, load_classifier

ROOT = Path(__file__).resolve().parents[2]


def plane_data(app) -> dict:
    return json.loads(app.get("bidi_component")[0].proto.json)


def unpack(decoder_map: dict) -> tuple[np.ndarray, np.ndarray]:
    n = decoder_map["n"]
    classes = np.frombuffer(base64.b64decode(decoder_map["classes"]), dtype=np.uint8).reshape(n, n)
    confidence = np.frombuffer(base64.b64decode(decoder_map["confidence"]), dtype=np.uint8).reshape(n, n)
    return classes, confidence / 255


@pytest.fixture(scope="module")
def reference():
    """map_of(square) -> (classes, confidence) computed directly by the package, as the page should."""
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    classifier = fused_for_inference(load_classifier(classifier_path("mnist"))[0])   # as the page reads
    return lambda square: inference.decoder_map(model, classifier, inference.dims_basis(2, (0, 1)), square, 100)


def test_the_toggle_sends_the_map_of_the_visible_square_and_a_zoom_recomputes_it(open_page, reference):
    app = open_page("app_pages/pages/latent.py")
    assert plane_data(app)["decoder_map"] is None and "map" not in app.query_params
    app.toggle(key="decoder_map").set_value(True).run()
    assert not app.exception and not app.error
    shown = plane_data(app)["decoder_map"]
    first = shown["extent"]
    assert shown["n"] == 100 and shown["names"] == [str(d) for d in range(10)]
    assert first[1] - first[0] == pytest.approx(first[3] - first[2])      # the plane's home view is a square
    classes, confidence = unpack(shown)
    expected_classes, expected_confidence = reference(tuple(first))
    np.testing.assert_array_equal(classes, expected_classes)
    np.testing.assert_allclose(confidence, expected_confidence, atol=0.5 / 255 + 1e-6)
    share = float(np.mean(expected_confidence >= 0.9))
    assert shown["share"] == pytest.approx(share)                      # the legend's line says it
    assert app.query_params["map"] == "1"

    # The browser reports the square it shows after a zoom; the map of that square comes back.
    app.session_state["plane"] = {"view": "-1.0123,0.9877,0.5,2.5"}
    app.run()
    zoomed = plane_data(app)["decoder_map"]
    assert zoomed["extent"] == list(snap_square((-1.0123, 0.9877, 0.5, 2.5))) == [-1.01, 0.99, 0.5, 2.5]
    classes, confidence = unpack(zoomed)
    expected_classes, expected_confidence = reference((-1.01, 0.99, 0.5, 2.5))
    np.testing.assert_array_equal(classes, expected_classes)
    np.testing.assert_allclose(confidence, expected_confidence, atol=0.5 / 255 + 1e-6)
    assert zoomed["key"] != shown["key"]

    app.toggle(key="decoder_map").set_value(False).run()
    assert plane_data(app)["decoder_map"] is None and "map" not in app.query_params


@pytest.mark.parametrize("view", ["banana", "1,2,3", "0,0,0,0", "nan,1,0,1", "0,1e6,0,1e6"])
def test_a_view_the_page_cannot_use_falls_back_to_the_home_square(open_page, view):
    app = open_page("app_pages/pages/latent.py")
    app.toggle(key="decoder_map").set_value(True).run()
    home = plane_data(app)["decoder_map"]["extent"]
    app.session_state["plane"] = {"view": view}
    app.run()
    assert not app.exception and plane_data(app)["decoder_map"]["extent"] == home


def test_a_link_with_map_1_opens_with_the_map_on(runs_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"map": "1"})
    app.switch_page("app_pages/pages/latent.py").run()
    assert not app.exception
    assert app.toggle(key="decoder_map").value is True
    assert plane_data(app)["decoder_map"]["n"] == 100


def test_a_fashion_model_is_read_by_the_fashion_classifier_with_its_class_names(runs_dir, monkeypatch):
    from vae import data
    from vae.datasets import FASHION_MNIST

    try:
        data.ensure_data(dataset=FASHION_MNIST, log=lambda m: None, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"model": "fashion-mnist-2d", "map": "1"})
    app.switch_page("app_pages/pages/latent.py").run()
    assert not app.exception
    shown = plane_data(app)["decoder_map"]
    assert shown["names"] == list(FASHION_MNIST.class_names)
    model, _ = vae.load_checkpoint(ROOT / "checkpoints" / "fashion-mnist-2d.pt")
    classifier = fused_for_inference(load_classifier(classifier_path("fashion-mnist"))[0])   # as the page reads
    expected, _ = inference.decoder_map(model, classifier, inference.dims_basis(2, (0, 1)), tuple(shown["extent"]), 100)
    np.testing.assert_array_equal(unpack(shown)[0], expected)

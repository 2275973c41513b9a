"""Every page follows the chosen model's dataset: a Fashion-MNIST model gets Fashion-MNIST's test set,
its class names and words, and the Reconstruct page offers what fits it."""
import gzip

import numpy as np
import pytest

import vae
import vae.inference
from app_pages import catalog
from vae import data
from vae.datasets import FASHION_MNIST

from test_pages import messages, plane_data, plane_dots, served_file, widget


@pytest.fixture
def fashion_model(tmp_path, monkeypatch):
    """A small Fashion-MNIST model (untrained: the pages' wiring is under test, not its quality) as
    the app's default checkpoint."""
    try:
        data.ensure_data(dataset=FASHION_MNIST, log=lambda m: None, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    path = tmp_path / "fashion-2d.pt"
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=2, hidden=32, depth=1)),
                        {"epoch": 0, "test_metrics": None, "dataset": "fashion-mnist"})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    return path


def fashion_test_set():
    return data.load_dataset("test", dataset=FASHION_MNIST)


def test_reconstruct_offers_test_items_and_drawing_and_says_why_not_uploads(open_page, fashion_model):
    app = open_page("app_pages/pages/reconstruct.py")
    assert messages(app) == {"exception": [], "error": []}
    assert app.radio(key="source").options == ["Draw with the mouse", "A test item"]
    assert any("Uploads are for digit models" in i.value for i in app.info)
    app.radio(key="source").set_value("A test item").run()
    widget(app.number_input, "Test item index").set_value(0).run()
    assert messages(app) == {"exception": [], "error": []}
    images, labels = fashion_test_set()
    assert FASHION_MNIST.class_names[int(labels[0])] == "Ankle boot"          # Zalando's first test item
    assert any("labelled **Ankle boot**" in c.value for c in app.caption)
    assert any("Fashion-MNIST style" in c for image in app.image for c in image.captions)


def test_a_digit_model_still_offers_uploads(open_page):
    app = open_page("app_pages/pages/reconstruct.py")
    assert app.radio(key="source").options == ["Upload a picture", "Draw with the mouse", "A test digit"]


def test_the_dot_story_reads_items_with_the_fashion_classifier_words(open_page, fashion_model):
    app = open_page("app_pages/pages/latent.py")
    app.session_state["explore_tab"] = "A dot's story"
    app.run()
    widget(app.number_input, "Test item index").set_value(2).run()
    assert messages(app) == {"exception": [], "error": []}
    images, labels = fashion_test_set()
    name = FASHION_MNIST.class_names[int(labels[2])]                           # a Trouser
    captions = [c for image in app.image for c in image.captions]
    assert any(f"test item #2, labelled “{name}”" in c for c in captions), captions
    neighbours = next(c for c in captions if c.startswith("Its 8 nearest neighbours"))
    assert any(n in neighbours for n in FASHION_MNIST.class_names) and "(#" in neighbours


def test_the_elbo_page_runs_on_a_fashion_item_and_matches_negative_elbo(open_page, fashion_model):
    app = open_page("app_pages/pages/elbo.py")
    assert messages(app) == {"exception": [], "error": []}
    widget(app.number_input, "Test item index").set_value(0).run()
    captions = [c for image in app.image for c in image.captions]
    assert any("test item #0 (Ankle boot)" in c for c in captions), captions


def test_latent_page_encodes_the_fashion_test_set(open_page, fashion_model):
    app = open_page("app_pages/pages/latent.py")
    assert messages(app) == {"exception": [], "error": []}
    model, _ = vae.load_checkpoint(fashion_model)
    images, labels = fashion_test_set()
    expected = vae.inference.encode_dataset(model, images)
    sent = plane_data(app)

    points, sent_labels = plane_dots(sent)
    np.testing.assert_allclose(points, expected, atol=1e-5)              # Fashion's test set, not MNIST's
    assert sent_labels.tolist() == labels.tolist()
    assert sent["class_names"] == list(FASHION_MNIST.class_names)


def test_the_browser_gets_the_fashion_images_after_the_mnist_ones(open_page, fashion_model, monkeypatch):
    """The hover card's picture comes from the images blob: each dataset has its own (one blob per
    dataset, not one per size: both test sets hold 10,000 images)."""
    monkeypatch.delenv(catalog.CHECKPOINT_ENV)
    app = open_page("app_pages/pages/latent.py")                       # the shipped MNIST model first
    mnist = plane_data(app)
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(fashion_model))
    app = open_page("app_pages/pages/latent.py")
    sent = plane_data(app)
    assert sent["images_key"] != mnist["images_key"] and not set(sent["images_files"]) & set(mnist["images_files"])
    assert b"".join(gzip.decompress(served_file(url)) for url in sent["images_files"]) == \
        fashion_test_set()[0].numpy().tobytes()


def test_missing_fashion_data_is_explained_without_a_download(open_page, fashion_model, tmp_path, monkeypatch):
    from app_pages.common import _test_set

    monkeypatch.setenv(data.DATA_ROOT_ENV, str(tmp_path / "empty"))
    for name, (label, _) in data.FETCHERS.items():
        monkeypatch.setitem(data.FETCHERS, name, (label, lambda *a: pytest.fail("the server started a download")))
    _test_set.clear()
    try:
        app = open_page("app_pages/pages/latent.py")
        assert not app.exception
        assert any("python -m vae data --dataset fashion-mnist" in e.value for e in app.error)
    finally:
        _test_set.clear()

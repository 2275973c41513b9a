"""One source for each fact: the pages call vae's function for a number rather than computing it again,
so a change there reaches them (each test changes vae's function and sees the page follow)."""

import pytest
import torch

import vae
import vae.classifier
import vae.evaluate
from app_pages import catalog, explore
from vae.data import load_mnist, to_float
from vae.model import VAE

from test_pages import finished_run, messages, open_explore_tab, plane_data


def test_the_elbo_page_shows_the_noise_its_z_is_made_of(open_page, monkeypatch):
    """z on the page is μ + σ·ε of the ε it prints, however reparameterize would draw noise itself
    (here: from the generator, negated): the page passes its ε (eps=) instead of seeding a twin."""
    reparameterize = VAE.reparameterize

    def drawing_otherwise(mean, logvar, generator=None, eps=None):
        if eps is None:
            eps = -torch.randn(mean.shape, generator=generator)
        return reparameterize(mean, logvar, eps=eps)

    monkeypatch.setattr(VAE, "reparameterize", staticmethod(drawing_otherwise))
    app = open_page("app_pages/pages/elbo.py")
    app.number_input(key="elbo_index").set_value(7).run()
    app.button(key="elbo_redraw").click().run()                          # draw 1 of ε
    assert messages(app) == {"exception": [], "error": []}
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    x = to_float(load_mnist("test")[0][7]).reshape(1, 1, 28, 28)
    with torch.no_grad():
        mean, logvar = model.encode(x)
    eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(1))
    shown = " ".join(m.value for m in app.markdown)
    assert "ε = (" + ", ".join(f"{v:.3f}" for v in eps[0].tolist()) + ")" in shown
    z = mean + torch.exp(0.5 * logvar) * eps
    assert plane_data(app)["mark"] == pytest.approx(z[0].tolist(), abs=1e-5)
    assert "z = μ + σ·ε = (" + ", ".join(f"{v:.3f}" for v in z[0].tolist()) + ")" in shown


def test_the_runs_page_computes_the_clis_latent_metrics(open_page, runs_dir, monkeypatch):
    """The Runs page's kNN accuracy and class agreement are vae.evaluate.latent_metrics', which the CLI's
    evaluate computes too, with the same k (5) and the dataset's classifier."""
    calls = []

    def recorded(model, images, labels, *, train=None, knn_k=5, classify=None):
        calls.append((len(images), len(train[0]), knn_k, classify is not None))
        return {"knn_accuracy": 0.125, "knn_k": knn_k, "class_agreement": 0.5}

    monkeypatch.setattr(vae.evaluate, "latent_metrics", recorded)
    finished_run(runs_dir, "first", [180.0, 160.0])
    finished_run(runs_dir, "second", [170.0, 155.0])
    app = open_page("app_pages/pages/runs.py")
    app.button(key="compare_more").click().run()
    assert messages(app) == {"exception": [], "error": []}
    table = app.dataframe[1].value
    assert list(table["5-NN accuracy"]) == [0.125, 0.125] and list(table["class agreement"]) == [0.5, 0.5]
    assert calls == [(10_000, 60_000, 5, True)] * 2


def test_latent_metrics_are_the_knn_vote_and_the_class_agreement():
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    images, labels = load_mnist("test")
    train_images, train_labels = load_mnist("train")
    images, labels, train_images, train_labels = images[:300], labels[:300], train_images[:2000], train_labels[:2000]
    reader = explore.classifier("mnist")
    classify = lambda x: vae.classifier.predict(reader, x)                  # noqa: E731
    result = vae.evaluate.latent_metrics(model, images, labels.numpy(), train=(train_images, train_labels), knn_k=3,
                                         classify=classify)
    encode = vae.inference.encode_dataset
    assert result == {"knn_accuracy": vae.evaluate.knn_accuracy(encode(model, train_images), train_labels,
                                                                encode(model, images), labels, k=3),
                      "knn_k": 3, "class_agreement": vae.evaluate.class_agreement(classify, model, images, labels)}
    assert 0.5 < result["knn_accuracy"] <= 1 and 0.5 < result["class_agreement"] <= 1
    assert vae.evaluate.latent_metrics(model, images, labels, train=(train_images, train_labels), knn_k=0) == {}


def test_a_dots_story_reads_its_classes_with_the_classifiers_predict(open_page, monkeypatch):
    """What the story says the classifier reads is vae.classifier.predict's answer (here: always class 8)."""
    seen = []

    def predict(model, images, **kwargs):
        seen.append((tuple(images.shape), images.dtype))
        return torch.full((len(images),), 8)

    monkeypatch.setattr(vae.classifier, "predict", predict)
    app = open_explore_tab(open_page("app_pages/pages/latent.py"), "A dot's story")
    app.number_input(key="story_index").set_value(3).run()
    assert messages(app) == {"exception": [], "error": []}
    captions = [c for image in app.image for c in image.captions]
    assert any("labelled “0”; the classifier reads “8”" in c for c in captions), captions
    assert any("decoded from its mean; the classifier reads “8”" in c for c in captions), captions
    assert seen and seen[-1][0] == (2, 1, 28, 28)


def test_read_classes_goes_by_the_dtype_as_predict_does():
    """A faint uint8 image (values 0 and 1) is read as faint: /255 by its dtype, as predict does, not as
    full ink because its values are at most 1."""
    reader = explore.classifier("mnist")
    images = load_mnist("test")[0][:64]
    faint = (images > 127).to(torch.uint8)
    expected = vae.classifier.predict(reader, faint).tolist()
    assert expected != vae.classifier.predict(reader, faint.float().reshape(-1, 1, 28, 28)).tolist()
    assert explore.read_classes(faint.numpy(), "mnist") == expected

"""Every page through AppTest with the shipped checkpoint: renders, decodes, uploads, validates."""
import base64
import gzip
import hashlib
import io
import json
import os
import time

from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

import vae
import vae.inference
from app_pages import catalog
from app_pages.common import escape_markdown
from vae import lifecycle, runfiles
from vae.data import load_mnist

from harness import photo_of_digit
from helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]

PAGES = ["app_pages/pages/home.py", "app_pages/pages/train.py", "app_pages/pages/latent.py", "app_pages/pages/reconstruct.py",
         "app_pages/pages/elbo.py", "app_pages/pages/runs.py"]


def messages(app) -> dict:
    return {"exception": [e.value for e in app.exception], "error": [e.value for e in app.error]}


def widget(widgets, label: str):
    return next(w for w in widgets if w.label.startswith(label))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_page_renders_without_errors(open_page, page):
    app = open_page(page)
    assert messages(app) == {"exception": [], "error": []}
    assert app.title and app.title[0].value


def test_the_model_menu_offers_the_shipped_model_first(open_page):
    app = open_page()
    picker = app.selectbox(key="checkpoint")
    assert picker.value.endswith("mnist-2d.pt")
    assert picker.format_func(picker.value) == "mnist-2d"
    assert escape_markdown("z=2") in app.caption[0].value             # the details are Markdown-escaped


def plane_data(app, index: int = 0) -> dict:
    """The data the latent-plane component received on the last run."""
    return json.loads(app.get("bidi_component")[index].proto.json)


def served_file(url: str) -> bytes:
    """The bytes of the file the server serves at `url` (/app/static/<name>: app_pages/plane.STATIC)."""
    from app_pages.plane import STATIC

    assert url.startswith("/app/static/")
    return (STATIC / url.removeprefix("/app/static/")).read_bytes()


def plane_dots(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """The plane's dots (N, 2) float32 and their labels (N,) uint8, from the file the element names (or
    from the element itself when the server could not write the file)."""
    if "points_url" not in data:
        return (np.frombuffer(base64.b64decode(data["points"]), dtype="<f4").reshape(-1, 2),
                np.frombuffer(base64.b64decode(data["labels"]), dtype=np.uint8))
    raw, n = gzip.decompress(served_file(data["points_url"])), data["points_count"]
    assert len(raw) == 9 * n
    return np.frombuffer(raw[:8 * n], dtype="<f4").reshape(-1, 2), np.frombuffer(raw[8 * n:], dtype=np.uint8)


def served_weights(url: str) -> np.ndarray:
    """The float16 weights in the decoder's file: gzip-compressed low-byte plane, then high-byte plane."""
    planes = np.frombuffer(gzip.decompress(served_file(url)), dtype=np.uint8).reshape(2, -1)
    return np.ascontiguousarray(planes.T).view("<f2").ravel()


def test_latent_page_serves_the_decoder_and_images_as_files_and_the_plane_in_view_coordinates(open_page):
    app = open_page("app_pages/pages/latent.py")
    assert messages(app) == {"exception": [], "error": []}
    data = plane_data(app)
    assert "weights" not in data["decoder"] and "images" not in data        # nothing big in the websocket's message
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    decoder = data["decoder"]
    assert decoder["encoding"] == "f16-planes-gzip"
    expected = torch.cat([p.detach().flatten() for p in model.decoder.parameters()]).numpy()
    np.testing.assert_array_equal(served_weights(decoder["url"]).astype(np.float32),
                                  expected.astype(np.float16).astype(np.float32))
    assert "points" not in data and len(json.dumps(data)) < 12_000   # the dots too: a pin changes a small element
    points, labels = plane_dots(data)
    images, true_labels = load_mnist("test")
    np.testing.assert_allclose(points[:50], vae.inference.encode_dataset(model, images[:50]), atol=1e-5)
    assert (labels == true_labels.numpy()).all()
    assert data["images_count"] == 10_000 and data["images_per_file"] == 1000 and len(data["images_files"]) == 10
    assert b"".join(gzip.decompress(served_file(url)) for url in data["images_files"]) == images.numpy().tobytes()
    # Each file's name is the hash of its bytes, and a rerun names the same files.
    for url in [decoder["url"], *data["images_files"]]:
        assert url == f"/app/static/{hashlib.sha256(served_file(url)).hexdigest()[:32]}.gz"
    app.run()
    assert plane_data(app) == data


def test_a_changed_checkpoint_gets_a_new_file_and_the_old_one_stays(open_page, tmp_path, monkeypatch):
    """A run's checkpoint is rewritten while it trains: the browser must not keep the old weights under
    the new ones' name, nor lose the old file that another tab may still be fetching."""
    path = tmp_path / "run.pt"
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    urls = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=2, hidden=32)).eval(), {"epoch": seed, "test_metrics": None})
        os.utime(path, ns=(seed * 10**9, seed * 10**9))                     # a new version, whatever the clock
        app = open_page("app_pages/pages/latent.py")
        assert messages(app) == {"exception": [], "error": []}
        urls.append(plane_data(app)["decoder"]["url"])
        model, _ = vae.load_checkpoint(path)
        expected = torch.cat([p.detach().flatten() for p in model.decoder.parameters()]).numpy()
        np.testing.assert_array_equal(served_weights(urls[-1]), expected.astype(np.float16))
    assert urls[0] != urls[1]
    assert served_file(urls[0])                                            # the first version is still served


def test_a_server_that_cannot_write_its_files_still_sends_the_dots(open_page, tmp_path, monkeypatch):
    """No file can be served (the folder cannot be made): the dots travel in the element, the decoder says why
    it is off (the page then decodes on the server)."""
    from app_pages import plane

    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(plane, "STATIC", tmp_path / "a-file" / "static")
    app = open_page("app_pages/pages/latent.py")
    assert messages(app) == {"exception": [], "error": []}
    data = plane_data(app)
    assert "points_url" not in data and "could not write the file it serves" in data["decoder"]["error"]
    points, labels = plane_dots(data)
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    images, true_labels = load_mnist("test")
    np.testing.assert_allclose(points[:50], vae.inference.encode_dataset(model, images[:50]), atol=1e-5)
    assert labels.tolist() == true_labels.tolist()


def test_latent_page_restores_model_point_and_dimensions_from_the_url(open_page, tmp_path, monkeypatch):
    path = tmp_path / "z4.pt"
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)).eval(), {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"model": "z4", "z": "1.25,-0.5", "dims": "3,1"})
    app.switch_page("app_pages/pages/latent.py").run()
    assert messages(app) == {"exception": [], "error": []}
    data = plane_data(app)
    assert data["pin"] == [1.25, -0.5] and data["axes"] == ["z3", "z1"]
    assert data["basis"]["u"] == [0, 0, 0, 1] and data["basis"]["v"] == [0, 1, 0, 0]
    assert any("**1.250**" in m.value and "**-0.500**" in m.value for m in app.markdown)
    assert dict(app.query_params) == {"model": "z4", "z": "1.2500,-0.5000", "dims": "3,1"}


@pytest.mark.parametrize("query, words", [
    ({"model": "no-such-model"}, "not here"),
    ({"z": "1.0,banana"}, "not two numbers"),
    ({"z": "inf,2"}, "not two numbers"),
    ({"z": "1,2,3"}, "not two numbers"),
])
def test_a_bad_link_gets_a_message_and_the_defaults(query, words, runs_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update(query)
    app.switch_page("app_pages/pages/latent.py").run()
    assert messages(app) == {"exception": [], "error": []}
    assert any(words in w.value for w in app.warning), [w.value for w in app.warning]
    data = plane_data(app)
    assert data["pin"] == [0.0, 0.0] and data["model"].startswith("decoder-")


def test_test_set_is_encoded_once_per_checkpoint(open_page, monkeypatch):
    calls = []
    encode = vae.inference.encode_dataset
    monkeypatch.setattr(vae.inference, "encode_dataset", lambda *a, **k: calls.append(1) or encode(*a, **k))
    app = open_page("app_pages/pages/latent.py")
    app.slider[0].set_value(12).run()
    app.switch_page("app_pages/pages/reconstruct.py").run()
    assert messages(app)["exception"] == []
    assert len(calls) == 1


def png_photo_of_test_digit(index: int = 0, fmt: str = "PNG") -> bytes:
    return photo_of_digit(load_mnist("test")[0][index].numpy(), fmt)


@pytest.mark.parametrize("name, fmt, mime", [("digit.png", "PNG", "image/png"), ("digit.jpg", "JPEG", "image/jpeg")])
def test_reconstruct_page_reconstructs_an_uploaded_photo(open_page, name, fmt, mime):
    app = open_page("app_pages/pages/reconstruct.py")
    app.file_uploader[0].set_value((name, png_photo_of_test_digit(0, fmt), mime)).run()
    assert messages(app) == {"exception": [], "error": []}
    captions = [caption for image in app.image for caption in image.captions]
    assert captions == ["your picture", "28×28 model input (MNIST style)", "reconstruction"]
    data = plane_data(app)                                  # the digit's code is marked on the plane
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    digit = load_mnist("test")[0][0]
    assert data["mark"] is not None and np.hypot(*(np.array(data["mark"]) - vae.inference.encode_dataset(
        model, digit[None])[0])) < 0.5


@pytest.mark.parametrize("content, words", [
    pytest.param(b"this is not a picture\n" * 10, "not an image", id="text-named-png"),
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "damaged", id="truncated"),
])
def test_reconstruct_page_explains_a_broken_upload(open_page, content, words):
    app = open_page("app_pages/pages/reconstruct.py")
    app.file_uploader[0].set_value(("digit.png", content, "image/png")).run()
    assert messages(app)["exception"] == []
    assert len(app.error) == 1 and words in app.error[0].value
    app.radio[0].set_value("A test digit").run()                  # the page keeps working
    assert messages(app) == {"exception": [], "error": []}


def test_reconstruct_page_shows_a_test_digit(open_page):
    app = open_page("app_pages/pages/reconstruct.py")
    app.radio[0].set_value("A test digit").run()
    widget(app.number_input, "Test digit index").set_value(3).run()
    assert messages(app) == {"exception": [], "error": []}
    assert any("labelled **0**" in c.value for c in app.caption)   # test digit 3 is a 0


def submit_training(app, **values):
    for label, value in values.items():
        widget(app.number_input, label).set_value(value)
    app.button[0].click().run()
    return app


def test_train_page_refuses_an_invalid_form(open_page, runs_dir):
    app = submit_training(open_page("app_pages/pages/train.py"), **{"Learning rate": 0.0})
    assert messages(app)["exception"] == []
    assert "learning rate" in app.error[0].value.lower()
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_train_page_starts_one_run_and_refuses_a_second(open_page, runs_dir):
    app = submit_training(open_page("app_pages/pages/train.py"), **{"Epochs": 1, "Training subset": 512})
    assert messages(app) == {"exception": [], "error": []}
    [(run_dir, status)] = lifecycle.list_runs(runs_dir)
    assert status["state"] == "running"
    app.run()
    assert next(b for b in app.button if b.label == "Start training").disabled        # one run at a time
    wait_until(lambda: lifecycle.read_status(run_dir)["state"] != "running", every=0.5)
    assert lifecycle.read_status(run_dir)["state"] == "finished", (run_dir / runfiles.LOG).read_text()
    app = open_page()
    options = app.selectbox(key="checkpoint").options
    assert f"run {run_dir.name}" in options, options


def test_a_model_with_more_latent_dimensions_lets_the_user_pick_two(open_page, tmp_path, monkeypatch):
    path = tmp_path / "z4.pt"
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)).eval(), {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    app = open_page("app_pages/pages/latent.py")
    assert messages(app) == {"exception": [], "error": []}
    assert any("held at 0" in info.value for info in app.info)
    widget(app.selectbox, "Vertical axis").set_value(3).run()
    assert messages(app) == {"exception": [], "error": []}
    assert any("z3" in m.value for m in app.markdown)
    widget(app.selectbox, "Vertical axis").set_value(0).run()      # the same dimension twice
    assert "two different dimensions" in app.error[0].value


def test_without_any_model_the_pages_say_so(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(tmp_path / "missing.pt"))
    for page in ("app_pages/pages/latent.py", "app_pages/pages/reconstruct.py"):
        app = open_page(page)
        assert messages(app) == {"exception": [], "error": []}
        assert any("No model" in w.value for w in app.warning)


@pytest.mark.parametrize("content, why", [(None, "no such checkpoint file"),
                                          (b"not a checkpoint", "not a readable checkpoint (truncated")],
                         ids=["missing", "not-a-checkpoint"])
def test_a_broken_vae_checkpoint_says_so_by_name(open_page, tmp_path, monkeypatch, runs_dir, content, why):
    """$VAE_CHECKPOINT set to a file that will not open is named with the reason, not "No model yet … run
    `make run`" (which fetches a default the variable overrides); a run in the menu still opens."""
    path = tmp_path / "y.pt"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    app = open_page("app_pages/pages/latent.py")
    assert messages(app) == {"exception": [], "error": []}
    said = [w.value for w in app.warning if "VAE" in w.value]
    assert len(said) == 1 and said[0].startswith(escape_markdown(f"VAE_CHECKPOINT={path}: {why}")), said
    assert not any("make run" in info.value for info in app.info)
    assert any("No model" in w.value for w in app.main.warning)

    run_dir = runs_dir / "20260101-000000-mlp-z2-e1-b128"           # with a model in the menu, it still says so
    vae.save_checkpoint(run_dir / runfiles.CHECKPOINT, vae.VAE(vae.ModelConfig(latent_dim=2)).eval(),
                        {"epoch": 1, "test_metrics": None})
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": "finished", "started": 1.0, "epoch": 1, "epochs": 1})
    app.run()
    assert messages(app) == {"exception": [], "error": []}
    assert [w.value for w in app.warning if "VAE" in w.value] == said and app.session_state["checkpoint"] == str(
        run_dir / runfiles.CHECKPOINT)


def test_a_failed_run_shows_its_error(open_page, runs_dir):
    run_dir = runs_dir / "20260101-000000-mlp-z2-e1-b128"
    run_dir.mkdir(parents=True)
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": "failed", "error": "ValueError: lr must be positive",
                                                   "started": 1.0, "epoch": 0, "epochs": 1})
    (run_dir / runfiles.LOG).write_text("error: lr must be positive\n")
    app = open_page("app_pages/pages/train.py")
    assert messages(app)["exception"] == []
    assert app.error[0].value == "The run failed: " + escape_markdown("ValueError: lr must be positive")


def test_an_animated_upload_uses_its_first_frame_and_says_so(open_page):
    frames = [Image.open(io.BytesIO(png_photo_of_test_digit(i))).convert("L") for i in (0, 1)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=200)
    app = open_page("app_pages/pages/reconstruct.py")
    app.file_uploader[0].set_value(("digits.gif", buffer.getvalue(), "image/gif")).run()
    assert messages(app) == {"exception": [], "error": []}
    assert any("only its first frame" in info.value for info in app.info)
    assert len(app.image) == 3


def test_the_reconstruct_plane_shows_the_dimensions_and_pin_of_the_latent_page(open_page, tmp_path, monkeypatch):
    path = tmp_path / "z4.pt"
    torch.manual_seed(0)
    model = vae.VAE(vae.ModelConfig(latent_dim=4)).eval()
    vae.save_checkpoint(path, model, {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    app = open_page("app_pages/pages/latent.py")
    widget(app.selectbox, "Horizontal axis").set_value(3).run()
    latent = plane_data(app)
    assert latent["axes"] == ["z3", "z1"]
    app.switch_page("app_pages/pages/reconstruct.py").run()
    app.radio[0].set_value("A test digit").run()
    widget(app.number_input, "Test digit index").set_value(5).run()
    assert messages(app) == {"exception": [], "error": []}
    data = plane_data(app)
    assert data["basis"] == latent["basis"] and data["axes"] == ["z3", "z1"] and data["pin"] == latent["pin"]
    code = vae.inference.encode_dataset(vae.load_checkpoint(path)[0], load_mnist("test")[0][5:6])[0]
    assert data["mark"] == pytest.approx([code[3], code[1]], abs=1e-5)


@pytest.mark.parametrize("page", ["app_pages/pages/latent.py", "app_pages/pages/reconstruct.py"])
def test_without_mnist_the_pages_say_how_to_fetch_it_and_download_nothing(open_page, tmp_path, monkeypatch, page):
    from vae import data

    monkeypatch.setenv(data.DATA_ROOT_ENV, str(tmp_path / "no-data"))
    monkeypatch.setattr(data, "fetch_from_pypi", lambda root: pytest.fail("the server started a download"))
    monkeypatch.setattr(data, "fetch_from_torchvision", lambda root: pytest.fail("the server started a download"))
    from app_pages.common import _test_set

    _test_set.clear()                                  # read again from the (empty) data folder
    app = open_page(page)
    if page.endswith("reconstruct.py"):
        app.radio[0].set_value("A test digit").run()
    assert messages(app)["exception"] == []
    assert any("make data" in e.value for e in app.error), messages(app)
    assert not (tmp_path / "no-data").exists()


def open_explore_tab(app, tab: str):
    app.session_state["explore_tab"] = tab
    return app.run()


def test_prior_samples_are_seeded_and_marked_on_the_plane(open_page):
    app = open_explore_tab(open_page("app_pages/pages/latent.py"), "Sample")
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    expected = torch.randn(16, 2, generator=torch.Generator().manual_seed(0)).numpy()      # seed 0, T = 1
    np.testing.assert_allclose(plane_data(app)["overlays"]["points"], expected, atol=1e-6)
    app.button(key="prior_next").click().run()
    again = torch.randn(16, 2, generator=torch.Generator().manual_seed(1)).numpy()
    np.testing.assert_allclose(plane_data(app)["overlays"]["points"], again, atol=1e-6)
    app.slider(key="prior_temperature").set_value(2.0).run()
    np.testing.assert_allclose(plane_data(app)["overlays"]["points"], 2 * again, atol=1e-5)


def test_interpolation_runs_from_a_test_digit_to_the_pin_and_downloads_a_gif(open_page):
    app = open_explore_tab(open_page("app_pages/pages/latent.py"), "Interpolate")
    assert messages(app) == {"exception": [], "error": []}
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    start = vae.inference.encode_dataset(model, load_mnist("test")[0][:1])[0]
    path = np.asarray(plane_data(app)["overlays"]["path"])
    assert len(path) == 10
    np.testing.assert_allclose(path[0], start, atol=1e-5)               # A: test digit 0
    np.testing.assert_allclose(path[-1], [0.0, 0.0], atol=1e-6)          # B: the pinned point
    np.testing.assert_allclose(np.diff(path, axis=0), np.broadcast_to((path[-1] - path[0]) / 9, (9, 2)), atol=1e-5)
    assert {b.label for b in app.get("download_button")} == {"Download the strip (PNG)", "Download as an animation (GIF)",
                                                            "Download this explorer"}     # the page's own, vae.export
    app.selectbox(key="interp_b_source").set_value("a test digit").run()          # B: test digit 1
    straight = np.asarray(plane_data(app)["overlays"]["path"])
    end = vae.inference.encode_dataset(model, load_mnist("test")[0][1:2])[0]
    np.testing.assert_allclose(straight[-1], end, atol=1e-5)
    app.radio(key="interp_mode").set_value("slerp").run()
    curved = np.asarray(plane_data(app)["overlays"]["path"])
    assert np.abs(curved - straight).max() > 0.05                        # a different path, same ends
    np.testing.assert_allclose(curved[[0, -1]], straight[[0, -1]], atol=1e-5)


def test_a_dots_story_draws_its_posterior_and_reads_its_digit(open_page):
    app = open_explore_tab(open_page("app_pages/pages/latent.py"), "A dot's story")
    app.number_input(key="story_index").set_value(3).run()
    assert messages(app) == {"exception": [], "error": []}
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    image = load_mnist("test")[0][3].float().div(255).reshape(1, 1, 28, 28)
    with torch.no_grad():
        mean, logvar = model.encode(image)
    ellipse = plane_data(app)["overlays"]["ellipse"]
    assert (ellipse["x"], ellipse["y"]) == pytest.approx(tuple(mean[0].tolist()), abs=1e-5)
    assert (ellipse["rx"], ellipse["ry"]) == pytest.approx(tuple((2 * torch.exp(0.5 * logvar[0])).tolist()), abs=1e-5)
    captions = [c for image in app.image for c in image.captions]
    assert any("test digit #3, labelled “0”; the classifier reads “0”" in c for c in captions), captions
    app.button(key="story_next").click().run()
    assert app.number_input(key="story_index").value == 4


def test_the_interpolation_gif_goes_there_and_back_frame_by_frame():
    from app_pages.explore import gif_bytes

    frames = np.stack([np.full((28, 28), v, np.float32) for v in np.linspace(0, 1, 6)])
    gif = Image.open(io.BytesIO(gif_bytes(frames, scale=2)))
    assert gif.n_frames == 10 and gif.size == (56, 56)
    levels = []
    for i in range(gif.n_frames):
        gif.seek(i)
        levels.append(int(np.asarray(gif.convert("L"))[0, 0]))
    assert levels == [0, 51, 102, 153, 204, 255, 204, 153, 102, 51]


def test_the_elbo_page_shows_the_terms_vae_computes_for_that_digit(open_page):
    app = open_page("app_pages/pages/elbo.py")
    app.number_input(key="elbo_index").set_value(7).run()
    app.button(key="elbo_redraw").click().run()                          # draw 1 of ε
    app.slider(key="elbo_beta").set_value(2.5).run()
    assert messages(app) == {"exception": [], "error": []}
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    x = load_mnist("test")[0][7].float().div(255).reshape(1, 1, 28, 28)
    with torch.no_grad():                                                 # independently: the formulas by hand
        mean, logvar = model.encode(x)
        eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(1))
        z = mean + torch.exp(0.5 * logvar) * eps
        p = torch.sigmoid(model.decode_logits(z)).double().clamp(1e-12, 1 - 1e-12)
        recon = -(x.double() * p.log() + (1 - x.double()) * (1 - p).log()).sum().item()
        kl = 0.5 * (mean.double() ** 2 + logvar.double().exp() - 1 - logvar.double()).sum().item()
        loss, r, k = vae.model.negative_elbo(model.decode_logits(z), x, mean, logvar, beta=2.5)
    assert abs(recon - r.item()) < 0.05 and abs(kl - k.item()) < 1e-3
    text = " ".join(m.value for m in app.markdown)
    assert f"**{r.item():.2f}**" in text and f"**{k.item():.2f}**" in text
    assert f"**{loss.item():.2f}**" in text and f"**{r.item() + k.item():.2f}**" in text
    data = plane_data(app)
    assert data["mark"] == pytest.approx(z[0].tolist(), abs=1e-5)


def test_pca_and_hold_at_a_digit_views_of_a_four_dimensional_model(open_page, tmp_path, monkeypatch):
    path = tmp_path / "z4.pt"
    torch.manual_seed(0)
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)).eval(), {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    model, _ = vae.load_checkpoint(path)
    encodings = vae.inference.encode_dataset(model, load_mnist("test")[0]).astype(np.float64)
    app = open_page("app_pages/pages/latent.py")
    app.radio(key="view_kind").set_value("pca").run()
    assert messages(app) == {"exception": [], "error": []}
    assert any("PCA view" in i.value for i in app.info) and app.query_params["dims"] == "pca"
    data = plane_data(app)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(encodings.T))           # independently: the covariance
    top = eigenvectors[:, -1]
    assert abs(abs(np.dot(data["basis"]["u"], top)) - 1) < 1e-6
    np.testing.assert_allclose(data["basis"]["origin"], encodings.mean(axis=0), atol=1e-6)
    points, _ = plane_dots(data)
    assert points[:, 0].var() == pytest.approx(eigenvalues[-1], rel=1e-3)
    assert points[:, 1].var() == pytest.approx(eigenvalues[-2], rel=1e-3)
    app.radio(key="view_kind").set_value("dims").run()
    app.number_input(key="hold_index").set_value(5).run()
    data = plane_data(app)
    held = encodings[5].copy()
    held[[0, 1]] = 0
    np.testing.assert_allclose(data["basis"]["origin"], held, atol=1e-6)
    assert any("test image #5's values" in i.value for i in app.info)


def finished_run(runs_dir: Path, name: str, losses: list[float]) -> Path:
    """A run folder as training leaves it: status, test rows per epoch and an exportable checkpoint."""
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True)
    torch.manual_seed(len(losses))
    model = vae.VAE(vae.ModelConfig(hidden=16)).eval()
    vae.save_checkpoint(run_dir / runfiles.CHECKPOINT, model, {"epoch": len(losses), "test_metrics": None},
                        extra={"optimizer_state": {"step": torch.tensor(3.0)}})
    rows = [{"split": "test", "epoch": e + 1, "step": 10 * (e + 1), "loss": loss, "recon": loss - 5, "kl": 5.0,
             "seconds": float(e)} for e, loss in enumerate(losses)]
    (run_dir / runfiles.METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    status = {"state": "finished", "epoch": len(losses), "epochs": len(losses), "step": 10 * len(losses),
              "total_steps": 10 * len(losses), "started": time.time(), "pid": 0, "test_loss": losses[-1],
              "model_config": model.config.to_dict(), "train_config": vae.TrainConfig(epochs=len(losses)).to_dict()}
    (run_dir / runfiles.STATUS).write_text(json.dumps(status))
    return run_dir


def test_the_runs_page_compares_runs_and_exports_one(open_page, runs_dir):
    finished_run(runs_dir, "first", [180.0, 160.0, 150.0])
    finished_run(runs_dir, "second", [170.0, 155.0])
    app = open_page("app_pages/pages/runs.py")
    assert messages(app) == {"exception": [], "error": []}
    assert set(app.multiselect(key="compare").value) == {"first", "second"}
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    curves = {trace["name"]: trace["y"] for trace in figure["data"]}
    assert curves == {"first": [180.0, 160.0, 150.0], "second": [170.0, 155.0]}
    download = app.get("download_button")[0]
    assert download.proto.label.startswith("Download ")


def test_the_train_page_replays_a_runs_snapshots(open_page, runs_dir):
    from vae import replay

    run = finished_run(runs_dir, "replayed", [170.0, 150.0])
    images = load_mnist("test")[0]
    for step, seed in [(0, 1), (3, 2), (20, 3)]:
        torch.manual_seed(seed)
        replay.save_snapshot(run, vae.VAE(vae.ModelConfig(hidden=16)).eval(), images, step=step, epoch=step / 10)
    app = open_page("app_pages/pages/train.py")
    assert messages(app) == {"exception": [], "error": []}
    data = next(d for d in (json.loads(e.proto.json) for e in app.get("bidi_component")) if d.get("frames"))
    assert data["frames"]["labels"] == ["before training", "epoch 0.3 · step 3", "epoch 2 · step 20"]
    shown = [np.frombuffer(base64.b64decode(p), dtype="<f2").reshape(-1, 2) for p in data["frames"]["points"]]
    for frame, entry in zip(shown, replay.read_index(run)):
        np.testing.assert_array_equal(frame, replay.load_snapshot(run, entry)[:, :2].astype(np.float16))
    assert data["decoder"]["off"] and data["decoder"]["url"] is None


def newest_run_page(open_page, run_dir: Path, status: dict):
    """The Train page showing run_dir, whose status.json is `status` (started in the future: the newest)."""
    (run_dir / runfiles.STATUS).write_text(json.dumps({"started": time.time() + 3600, **status}))
    return open_page("app_pages/pages/train.py")


@pytest.mark.parametrize("status, kind, words", [
    ({"state": "stopped", "epoch": 0, "epochs": 3}, "info", "Stopped before its first checkpoint"),
    (None, "error", "cannot be read"),
    ({"state": "failed", "error": "RuntimeError: CUDA out of memory"}, "error", "CUDA out of memory"),
], ids=["stopped-early", "status-null", "failed"])
def test_the_train_page_explains_each_way_a_run_can_end(open_page, runs_dir, status, kind, words):
    run_dir = runs_dir / "odd"
    run_dir.mkdir(parents=True)
    if status is None:
        (run_dir / runfiles.STATUS).write_text("null")
        (run_dir / runfiles.STATUS).touch()
        app = open_page("app_pages/pages/train.py")
    else:
        app = newest_run_page(open_page, run_dir, status)
    assert messages(app)["exception"] == []
    shown = [e.value for e in getattr(app, kind)]
    assert any(words in text for text in shown), shown


def test_an_unusable_checkpoint_is_a_warning_not_a_crash(open_page, runs_dir):
    run_dir = finished_run(runs_dir, "broken", [170.0, 160.0])
    (run_dir / runfiles.CHECKPOINT).write_bytes(b"not a checkpoint at all")
    app = newest_run_page(open_page, run_dir, {"state": "finished", "epoch": 2, "epochs": 2})
    assert messages(app)["exception"] == []
    assert any("checkpoint cannot be used" in w.value for w in app.warning)


def test_a_killed_run_is_offered_for_resume_and_resumes(open_page, runs_dir):
    from vae.cli import main

    run_dir = runs_dir / "killed"
    assert main(["train", "--run-dir", str(run_dir), "--epochs", "2", "--limit", "256", "--batch-size", "64",
                 "--device", "cpu"]) == 0
    status = json.loads((run_dir / runfiles.STATUS).read_text())
    # As if kill -9 had hit it mid-run: "running", epochs to go, and a pid that no process holds.
    status.update(state="running", epochs=4, pid=2**22 - 3)
    (run_dir / runfiles.STATUS).write_text(json.dumps(status))
    app = open_page("app_pages/pages/train.py")
    assert messages(app)["exception"] == []
    assert any("Interrupted" in w.value for w in app.warning), [w.value for w in app.warning]
    app.button(key="resume").click().run()
    assert messages(app)["exception"] == [] and messages(app)["error"] == []
    wait_until(lambda: lifecycle.read_status(run_dir)["state"] != "running", every=0.5)
    assert lifecycle.read_status(run_dir)["state"] == "finished", (run_dir / runfiles.LOG).read_text()


def replayed_run_on_the_latent_page(open_page, runs_dir, name: str, steps: list, diverged_at=None):
    """The Latent page on a finished run's model, its Training replay tab open, the run holding a replay
    snapshot at each of `steps` (a small seeded model each; the one at `diverged_at` encodes to NaN)."""
    from vae import replay

    run = finished_run(runs_dir, name, [170.0, 150.0])
    images = load_mnist("test")[0]
    for seed, step in enumerate(steps, start=1):
        torch.manual_seed(seed)
        model = vae.VAE(vae.ModelConfig(hidden=16)).eval()
        if step == diverged_at:
            with torch.no_grad():
                model.encoder[-1].bias[0] = float("nan")
        replay.save_snapshot(run, model, images, step=step, epoch=step / 10)
    app = open_page("app_pages/pages/latent.py")
    app.selectbox(key="checkpoint").set_value(str(run / runfiles.CHECKPOINT)).run()
    app.session_state["explore_tab"] = "Training replay"
    app.run()
    assert messages(app) == {"exception": [], "error": []}
    return app


def replay_labels(app) -> list:
    frames = [json.loads(e.proto.json)["frames"] for e in app.get("bidi_component")]
    return [f["labels"] for f in frames if f]


def test_a_runs_model_offers_its_replay_on_the_latent_page(open_page, runs_dir):
    app = replayed_run_on_the_latent_page(open_page, runs_dir, "replayed", [0, 9])
    assert replay_labels(app) == [["before training", "epoch 0.9 · step 9"]]
    app = open_page("app_pages/pages/latent.py")                      # the shipped model: no replay tab
    assert "Training replay" not in [t.label for t in app.tabs]


def test_a_diverged_snapshot_is_said_and_left_out_of_the_replay(open_page, runs_dir):
    """A snapshot whose codes went to NaN (a diverged run) is not drawn, and the replay says which one
    and why, instead of dropping it without a word (issue 19)."""
    app = replayed_run_on_the_latent_page(open_page, runs_dir, "went-nan", [0, 9, 12], diverged_at=12)
    assert replay_labels(app) == [["before training", "epoch 0.9 · step 9"]]
    said = [w.value for w in app.warning if "left out" in w.value]
    assert len(said) == 1 and "step 12" in said[0] and "not finite" in said[0], said


def test_a_run_whose_status_names_its_dataset_oddly_is_still_offered_and_replayed(open_page, runs_dir):
    """status.json's train_config is only checked to be an object: a dataset there that is not a name
    (hand-edited, or written by another tool) reads as MNIST, as runs from before datasets did."""
    from vae import replay

    run = finished_run(runs_dir, "odd", [170.0, 150.0])
    status = json.loads((run / runfiles.STATUS).read_text())
    status["train_config"]["dataset"] = ["fashion-mnist"]
    (run / runfiles.STATUS).write_text(json.dumps(status))
    for step in (0, 9):
        replay.save_snapshot(run, vae.VAE(vae.ModelConfig(hidden=16)).eval(), load_mnist("test")[0], step=step,
                             epoch=step / 10)
    app = open_page("app_pages/pages/latent.py")
    assert "run odd" in app.selectbox(key="checkpoint").options
    app.selectbox(key="checkpoint").set_value(str(run / runfiles.CHECKPOINT)).run()
    app.session_state["explore_tab"] = "Training replay"
    app.run()
    assert messages(app) == {"exception": [], "error": []}
    shown = [json.loads(e.proto.json) for e in app.get("bidi_component")]
    assert [data["class_names"][0] for data in shown if data["frames"]] == ["0"]       # the replay, of digits


def test_home_shows_a_picture_of_the_plane(open_page):
    """Home shows the Latent page as it looks (docs/latent.png, the README's screenshot), so a first
    visitor sees what the explorer is before reading about it."""
    from PIL import Image

    app = open_page("app_pages/pages/home.py")
    assert messages(app) == {"exception": [], "error": []}
    images = app.get("image")
    assert len(images) == 1 and "Latent page" in images[0].proto.imgs[0].caption
    picture = Image.open(ROOT / "docs" / "latent.png")
    assert picture.width >= 1280 and picture.height >= 700                # a real screenshot, not a stand-in

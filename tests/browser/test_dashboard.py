"""The dashboard in a real Chromium: what a user sees after clicking, uploading, drawing and training."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from harness import (ERROR, MODEL_MENU, AppServer, draw_stroke, loss_points, open_app, photo_of_digit, run_heading, start_training,
                     upload)
from helpers import browser_pause, wait_until

pytestmark = pytest.mark.slow            # `make test-slow`: whole pages in Chromium, seconds each


def shown_image(page, caption: str) -> np.ndarray:
    """The pixels of the image shown above `caption`, grey (H, W)."""
    image = page.locator('[data-testid="stImage"]', has_text=caption).locator("img").first
    image.wait_for()
    return np.asarray(Image.open(io.BytesIO(page.request.get(image.get_attribute("src")).body())).convert("L"))


def picker_options(page) -> list[str]:
    """The labels in the model menu, read by opening it."""
    page.locator(f'{MODEL_MENU} [data-testid="stSelectbox"]').first.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    labels = options.all_inner_texts()
    page.keyboard.press("Escape")
    return labels


@pytest.mark.parametrize("name, fmt, mime", [("photo.png", "PNG", "image/png"), ("photo.jpg", "JPEG", "image/jpeg")],
                         ids=["png", "jpeg"])
def test_uploading_a_photo_of_a_digit_shows_its_input_and_reconstruction(page, server, mnist_test, name, fmt, mime):
    digit = mnist_test[0][7].numpy()                                  # a 9
    open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
    upload(page, name, photo_of_digit(digit, fmt), mime)
    model_input = shown_image(page, "28×28 model input")
    reconstruction = shown_image(page, "reconstruction")
    as_28 = np.asarray(Image.fromarray(model_input).resize((28, 28), Image.Resampling.BOX), dtype=np.float32)
    assert np.corrcoef(as_28.ravel(), digit.ravel())[0, 1] > 0.7, "the 28×28 input does not look like the digit"
    assert reconstruction.shape == model_input.shape and reconstruction.std() > 10
    assert page.locator(ERROR).count() == 0


def test_uploading_a_text_file_named_png_shows_an_error(page, server):
    open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
    upload(page, "notes.png", b"shopping list: milk, eggs\n" * 20, "image/png")
    error = page.locator(ERROR).first
    error.wait_for()
    assert "not an image" in error.inner_text()
    page.get_by_text("A test digit").click()                         # the page keeps working
    page.locator('[data-testid="stImage"]', has_text="reconstruction").wait_for()


def test_drawing_on_the_canvas_gives_a_reconstruction(page, server):
    open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
    page.get_by_text("Draw with the mouse").click()
    canvas = page.locator("canvas").last
    canvas.wait_for()
    page.wait_for_timeout(1000)                                       # let the canvas finish mounting
    draw_stroke(page, canvas, [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)])  # a 7
    model_input = shown_image(page, "28×28 model input")
    assert model_input.max() > 200 and (model_input > 100).mean() > 0.03
    page.locator('[data-testid="stImage"]', has_text="reconstruction").wait_for()


def test_a_short_run_draws_a_growing_loss_chart_and_joins_the_model_menu(page, server, no_training):
    open_app(page, f"{server.url}/train", "text=Start training")
    start_training(page, **{"Epochs": 2, "Batch size": 64, "Training subset": 20000})
    counts = []
    wait_until(lambda: counts.append(loss_points(page)) or "finished" in run_heading(page), 300, 0.25,
               browser_pause(page))
    heading = run_heading(page)
    assert heading.endswith("finished"), heading
    drawn = sorted({n for n in counts if n > 0})
    assert len(drawn) >= 2, f"the loss chart never grew while the run was going: {counts}"
    name = heading.split()[1].rstrip(":")
    assert f"run {name}" in picker_options(page)


def test_a_run_survives_a_reload_and_a_second_tab_and_stops_on_request(page, server, no_training):
    open_app(page, f"{server.url}/train", "text=Start training")
    start_training(page, **{"Epochs": 50, "Training subset": 0})
    page.locator("h3", has_text=": running").wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')", timeout=120_000)
    heading = run_heading(page)
    assert heading.endswith("running"), heading
    page.reload()
    assert run_heading(page) == heading
    second = page.context.new_page()
    open_app(second, f"{server.url}/train", "text=Start training")
    assert run_heading(second) == heading
    second.close()
    page.get_by_role("button", name="Stop training").click()
    page.locator("h3", has_text="stopped").wait_for(timeout=120_000)
    name = heading.split()[1].rstrip(":")
    assert f"run {name}" in picker_options(page)


def test_started_from_another_folder_the_app_behaves_the_same(chromium, tmp_path):
    """`streamlit run /abs/path/streamlit_app.py` from elsewhere: the shipped model, the project's
    settings (20 MB uploads) and the plane, as from the repository root."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env_runs = tmp_path / "runs"
    with AppServer(env_runs, tmp_path / "log", cwd=elsewhere) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server.url}/latent")                  # a cold server: the title paints before torch loads
        page.get_by_text("Loading the model and the test images…").wait_for()
        assert page.locator("h1", has_text="The latent plane").is_visible()
        assert page.locator(".vlp-planewrap").count() == 0
        open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
        assert "20MB per file" in page.locator('[data-testid="stFileUploaderDropzoneInstructions"]').inner_text()
        open_app(page, f"{server.url}/latent", ".vlp-planewrap")
        assert page.locator('[data-testid="stAlertContainer"]').count() == 0
        page.close()


def test_a_file_name_is_shown_as_text_never_as_markdown(page, server):
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if "evil" in request.url else None)
    open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
    name = "![i](http://127.0.0.1:9/evil.png) <b>bold</b> $x^2$.png"
    upload(page, name, b"not a picture at all\n" * 10, "image/png")
    error = page.locator(ERROR).first
    error.wait_for()
    assert error.locator("img, b, .katex").count() == 0
    assert "![i](http://127.0.0.1:9/evil.png) <b>bold</b> $x^2$.png" in error.inner_text()
    assert fetched == []


def test_the_replay_plays_and_scrubs_a_runs_snapshots(page, server):
    """A run folder with three snapshots: Play walks through them; the slider goes back to the start."""
    import json
    import shutil

    import torch

    import vae
    import vae.data
    from vae import replay, runfiles

    run = server.runs_dir / "zz-replayed"
    run.mkdir(parents=True)
    images = vae.data.load_mnist("test")[0]
    for step, seed in [(0, 1), (5, 2), (40, 3)]:
        torch.manual_seed(seed)
        replay.save_snapshot(run, vae.VAE(vae.ModelConfig(hidden=16)).eval(), images, step=step, epoch=step / 20)
    (run / runfiles.STATUS).write_text(json.dumps({"state": "finished", "epoch": 2, "epochs": 2, "step": 40,
                                               "total_steps": 40, "started": time.time() + 3600, "pid": 0}))
    try:
        open_app(page, f"{server.url}/train", ".vlp-replay:not([hidden])")
        plane = page.locator(".vlp-plane").first
        assert plane.get_attribute("data-frame") == "2"
        assert page.locator(".vlp-frame-label").first.inner_text() == "epoch 2 · step 40"
        page.get_by_role("button", name="play the replay").click()
        seen = set()
        for _ in range(40):
            seen.add(plane.get_attribute("data-frame"))
            if len(seen) == 3:
                break
            page.wait_for_timeout(100)
        assert seen == {"0", "1", "2"}, f"the replay did not walk through every snapshot: {seen}"
        slider = page.locator(".vlp-frame").first
        slider.fill("0")
        assert page.locator(".vlp-frame-label").first.inner_text() == "before training"
        assert plane.get_attribute("data-frame") == "0"
    finally:
        shutil.rmtree(run)

"""The training form and run management in Chromium: Advanced options reach a real run, Explore this model,
the model menu's label at three widths, rename and delete."""
import json
import time

import pytest

import vae
from vae import runfiles
from harness import ERROR, MODEL_MENU, open_app, run_heading, wait_until_idle
from helpers import browser_pause, wait_until

pytestmark = pytest.mark.slow            # `make test-slow`: whole pages in Chromium, seconds each



def test_a_short_run_from_the_form_with_advanced_options_then_explore_it(page, server, no_training):
    open_app(page, f"{server.url}/train", "text=Start training")
    page.get_by_text("Advanced: network shape").click()
    for label, value in [("Epochs", 1), ("Batch size", 64), ("Training subset", 1024), ("Hidden width", 32),
                         ("β (KL weight)", 2.0)]:
        page.get_by_role("spinbutton", name=label, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()
    page.locator("h3", has_text="Run ").first.wait_for(timeout=60_000)
    start = page.get_by_role("button", name="Start training")
    wait_until(lambda: "finished" in run_heading(page), 120, 0.25, browser_pause(page))
    heading = run_heading(page)
    assert heading.endswith("finished"), heading
    folder = heading.split()[1].rstrip(":")
    status = json.loads((server.runs_dir / folder / "status.json").read_text())
    assert status["model_config"]["hidden"] == 32 and status["train_config"]["beta"] == 2.0
    assert start.is_enabled()
    page.get_by_text("Configuration").first.click()
    page.get_by_role("button", name="Explore this model").click()
    page.wait_for_url("**/latent**", timeout=60_000)
    page.locator(".vlp-planewrap").first.wait_for(timeout=60_000)
    wait_until_idle(page)
    assert f"model=run%3A{folder}" in page.url or f"model=run:{folder}" in page.url
    assert f"run {folder}" in page.locator(MODEL_MENU).inner_text()
    assert page.locator(ERROR).count() == 0


def cut_texts(page) -> list[str]:
    """Texts in the model menu (its input shows the chosen name) and its caption that do not fit
    their box."""
    return page.evaluate("""() => {
        const side = document.querySelector('.st-key-model_menu');
        const menu = [...side.querySelectorAll('[data-testid="stSelectbox"] input')];
        const caption = [...side.querySelectorAll('[data-testid="stCaptionContainer"], '
                                                  + '[data-testid="stCaptionContainer"] *')];
        return [...menu, ...caption].filter((e) => e.scrollWidth > e.clientWidth + 1)
                                    .map((e) => e.value || e.innerText);
    }""")


NAMES = ["conv z16, KL warm-up 2", "thirty-two characters, just so!"]     # a typical name, the longest allowed


@pytest.mark.parametrize("width", [1400, 1024, 390])
@pytest.mark.parametrize("name", NAMES, ids=["typical", "longest"])
def test_the_model_menu_shows_the_models_full_label_at_every_width(chromium, server, width, name):
    run = server.runs_dir / "20260102-101010-conv-z16"
    run.mkdir(parents=True, exist_ok=True)
    (run / "status.json").write_text(json.dumps({
        "state": "finished", "started": time.time() + 7200, "epoch": 120, "epochs": 120, "test_loss": 234.56,
        "model_config": {"latent_dim": 16}, "train_config": {"dataset": "fashion-mnist"}}))
    (run / "checkpoint.pt").write_bytes(b"weights")
    (run / "name.txt").write_text(name + "\n")
    assert len(name) <= runfiles.MAX_NAME
    context = chromium.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        open_app(page, f"{server.url}/runs?model=run:{run.name}", "h1")
        caption = page.locator(f'{MODEL_MENU} [data-testid="stCaptionContainer"]').first   # shown at every width
        caption.wait_for()
        assert caption.inner_text().split("\n") == [
            name, "Fashion-MNIST · z=16 · 120/120 epochs · finished · test −ELBO 234.6"]
        box = caption.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        cut = cut_texts(page)
        if name == NAMES[0]:
            assert cut == []
        else:                                               # the menu may cut the longest; its caption never
            assert set(cut) <= {name}
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
        for file in ("checkpoint.pt", "status.json", "name.txt"):
            (run / file).unlink()
        run.rmdir()


def menu_options(page) -> list[str]:
    """The names in the model menu, read by opening it once the page has stopped rerunning (a click
    while the menu is being drawn again can be lost: then it opens it again)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    options = page.get_by_role("option")
    for _ in range(3):
        wait_until_idle(page)
        page.locator(f'{MODEL_MENU} [data-testid="stSelectbox"]').first.click()
        try:
            options.first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    names = options.all_inner_texts()
    page.keyboard.press("Escape")
    return names


def test_a_run_is_renamed_and_deleted_in_the_browser(page, server):
    run = server.runs_dir / "20260103-090000-mlp-z2"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({
        "state": "stopped", "started": time.time() + 9000, "epoch": 1, "epochs": 3, "test_loss": 170.0,
        "model_config": {"latent_dim": 2}}))
    vae.save_checkpoint(run / "checkpoint.pt", vae.VAE(vae.ModelConfig(hidden=8)), {"epoch": 1, "test_metrics": None})
    open_app(page, f"{server.url}/runs", "text=Rename or delete a run")
    name = page.get_by_role("textbox", name="Name")
    name.fill("first try")
    page.get_by_role("button", name="Rename", exact=True).click()
    page.get_by_role("button", name="Rename", exact=True).wait_for()
    wait_until_idle(page)
    wait_until(lambda: (run / "name.txt").is_file(), 30, 0.1, browser_pause(page))
    assert (run / "name.txt").read_text().strip() == "first try"
    assert "first try" in menu_options(page)
    page.get_by_role("button", name="Delete this run…").click()
    page.get_by_text("for good?").wait_for()
    assert run.is_dir()
    page.get_by_role("button", name="Yes, delete it").click()
    page.get_by_text("for good?").wait_for(state="detached")
    wait_until_idle(page)
    assert not run.exists()
    assert not any("first try" in option for option in menu_options(page))
    assert page.locator(ERROR).count() == 0

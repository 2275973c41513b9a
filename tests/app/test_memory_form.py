"""The training form refuses a configuration that cannot fit in memory, with vae.memory's estimate, and
starts nothing."""
import vae.memory
from app_pages import train_form
from app_pages.common import escape_markdown
from vae.memory import estimate_training_memory, size_text
from vae.model import ModelConfig
from vae.train import TrainConfig

from test_train_page import messages, option


def test_the_form_refuses_what_cannot_fit_in_memory(open_page, runs_dir, monkeypatch):
    monkeypatch.setattr(vae.memory, "available_memory", lambda device=None: 16 * 10**9)   # a 16 GB machine
    app = open_page("app_pages/pages/train.py")
    for name, value in (("hidden", 4096), ("depth", 8), ("batch_size", 60_000)):
        option(app, name).set_value(value)
    next(b for b in app.button if b.label == "Start training").click().run()
    assert messages(app)["exception"] == []
    needed = estimate_training_memory(ModelConfig(hidden=4096, depth=8), TrainConfig(batch_size=60_000)).total
    said = app.error[0].value
    assert said.startswith("Training was not started. This configuration needs about ")
    assert size_text(needed).replace(".", "\\.") in said and "16\\.0 GB free" in said
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_the_estimate_is_the_forms_and_the_default_fits(monkeypatch):
    monkeypatch.setattr(vae.memory, "available_memory", lambda device=None: 16 * 10**9)
    model_cfg, train_cfg = train_form.configs_from_form({})
    memory = train_form.memory_needed(model_cfg, train_cfg)
    assert memory.refusal is None and memory.available == 16 * 10**9
    assert memory.note == f"Training this needs about {size_text(memory.estimate.total)} of memory (16.0 GB free)."


def test_the_form_shows_the_estimate_of_its_options_and_estimate_memory_updates_it(open_page, runs_dir, monkeypatch):
    """Under the options, a caption gives vae.memory's estimate for the chosen configuration; the form sends
    its values only on a button, and "Estimate memory" sends them (a wider hidden layer: a larger figure)
    without starting a run."""
    monkeypatch.setattr(vae.memory, "available_memory", lambda device=None: 16 * 10**9)

    def said(hidden: int) -> str:
        total = estimate_training_memory(ModelConfig(hidden=hidden), TrainConfig()).total
        return escape_markdown(f"Training this needs about {size_text(total)} of memory (16.0 GB free).")

    def caption(app) -> str:
        return next(c.value for c in app.caption if c.value.startswith("Training this needs"))

    app = open_page("app_pages/pages/train.py")
    assert ModelConfig().hidden != 2048 and caption(app) == said(ModelConfig().hidden)
    option(app, "hidden").set_value(2048)
    app.button(key="estimate_memory").click().run()
    assert messages(app) == {"exception": [], "error": []}
    assert caption(app) == said(2048) != said(ModelConfig().hidden)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())

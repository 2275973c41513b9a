"""The server freezes what is alive once the first page has loaded torch (app_pages/collector.py), so Python's
full collections stop walking torch's objects: with ten students and a training run they had taken 85 to
540 ms each, stopping every session's script meanwhile (bench/classroom.py). AppTest's process is left alone."""
import gc
from types import SimpleNamespace

import pytest

from app_pages import collector


@pytest.fixture
def recorded(monkeypatch):
    """collector's gc.collect and gc.freeze recorded instead of done; nothing frozen yet."""
    calls = []
    monkeypatch.setattr(collector, "gc", SimpleNamespace(collect=lambda: calls.append("collect"),
                                                         freeze=lambda: calls.append("freeze")))
    monkeypatch.setattr(collector, "_frozen", False)
    return calls


def test_the_first_run_with_torch_loaded_collects_then_freezes_once(recorded, monkeypatch):
    monkeypatch.setattr(collector, "served", lambda: True)
    monkeypatch.setattr(collector, "torch_loaded", lambda: False)
    assert collector.freeze_once_torch_is_loaded() is False and recorded == []     # Home, before any model
    monkeypatch.setattr(collector, "torch_loaded", lambda: True)
    assert collector.freeze_once_torch_is_loaded() is True and recorded == ["collect", "freeze"]
    assert collector.freeze_once_torch_is_loaded() is False and recorded == ["collect", "freeze"]


def test_each_script_run_of_the_app_asks_and_apptest_freezes_nothing(open_page, recorded, monkeypatch):
    before = gc.get_freeze_count()
    open_page("app_pages/pages/latent.py")                          # torch and the model loaded
    assert recorded == [] and not collector._frozen                 # AppTest's runtime is a mock: not served
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(collector, "served", lambda: True)
    open_page("app_pages/pages/latent.py")
    assert recorded == ["collect", "freeze"]                        # streamlit_app.py asked after the page ran

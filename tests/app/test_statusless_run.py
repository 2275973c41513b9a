"""A run folder whose checkpoint is there but whose status.json is not (copied without it, or its writer
killed first) is still a run: the Runs page lists it as "no status", and the model menu opens its model."""
from streamlit.testing.v1 import AppTest

from test_pages import ROOT, finished_run, messages, plane_data, plane_dots


def test_a_run_without_status_is_listed_and_its_model_opens(open_page, runs_dir, monkeypatch):
    finished_run(runs_dir, "with-status", [170.0, 155.0])
    (finished_run(runs_dir, "copied", [180.0, 160.0, 150.0]) / "status.json").unlink()
    broken = runs_dir / "broken"
    broken.mkdir()
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (runs_dir / "empty").mkdir()                                          # no checkpoint: not a run to show

    app = open_page("app_pages/pages/runs.py")
    assert messages(app) == {"exception": [], "error": []}
    table = app.dataframe[0].value
    states = dict(zip(table["run"], table["state"]))
    assert states == {"with-status": "finished", "copied": "no status", "broken": "no status"}
    assert dict(zip(table["run"], table["checkpoint"]))["copied"]
    menu = app.selectbox(key="checkpoint")
    assert list(menu.options)[-2:] == ["run with-status", "run copied"]   # not broken: unreadable
    menu.set_value(str(runs_dir / "copied" / "checkpoint.pt")).run()
    assert "no status" in app.caption[0].value and "3 epochs" in app.caption[0].value

    linked = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    linked.query_params.update({"model": "run:copied"})
    linked.switch_page("app_pages/pages/latent.py").run()
    assert messages(linked) == {"exception": [], "error": []}
    assert linked.selectbox(key="checkpoint").value == str(runs_dir / "copied" / "checkpoint.pt")
    assert linked.query_params["model"] == "run:copied"
    assert len(plane_dots(plane_data(linked))[0]) == 10_000

"""Issue 16, training status: the Runs page's tables show each number in a form fit for it (the compare table
showed 131.10823059082031 as it came), through AppTest."""
import json

import vae.evaluate

from test_pages import finished_run, messages

NATS, SHARE = {"type": "number", "format": "%.2f"}, {"type": "number", "format": "percent"}


def tables(app) -> dict:
    """{"runs": ..., "compare": ...}: each of the page's tables as (its values, the formats of its columns)."""
    return {name: (frame.value, {column: config.get("type_config")
                                 for column, config in json.loads(frame.proto.columns).items()})
            for name, frame in zip(("runs", "compare"), app.dataframe, strict=True)}


def test_the_runs_tables_show_nats_to_2_decimals_and_the_latent_metrics_as_percentages(open_page, runs_dir,
                                                                                      monkeypatch):
    monkeypatch.setattr(vae.evaluate, "latent_metrics",       # what the CLI's evaluate would say, without the work
                        lambda *a, **k: {"knn_accuracy": 0.95125, "knn_k": 5, "class_agreement": 0.8})
    finished_run(runs_dir, "first", [180.0, 131.10823059082031])
    finished_run(runs_dir, "second", [170.0, 155.0])
    app = open_page("app_pages/pages/runs.py")
    app.button(key="compare_more").click().run()
    assert messages(app) == {"exception": [], "error": []}
    shown = tables(app)
    for values, formats in shown.values():
        # no column of fractional numbers is left to the default display, which shows every digit
        fractional = {name for name in values.columns
                      if values[name].dtype.kind == "f" and (values[name] % 1 != 0).any()}
        assert fractional <= {name for name, kind in formats.items() if kind and kind.get("format")}, fractional
        assert {name: formats.get(name) for name in ("test −ELBO", "recon", "KL")} == dict.fromkeys(
            ("test −ELBO", "recon", "KL"), NATS)
        assert formats.get("checkpoint") == {"type": "checkbox"}
    values, formats = shown["compare"]
    assert formats["5-NN accuracy"] == formats["class agreement"] == SHARE
    assert 131.10823059082031 in list(values["test −ELBO"])         # the numbers stay numbers: they sort as such
    assert list(values["5-NN accuracy"]) == [0.95125, 0.95125]

import json
import time

import pytest

from vae import ModelConfig, TrainConfig
from vae.runs import active_run, list_runs, read_metrics, read_status, start_run, stop_run, write_json_atomic


def wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_one_run_at_a_time_and_stop_ends_it_as_stopped(tmp_path):
    long = TrainConfig(epochs=50, limit=2000, device="cpu", log_every=1)
    run = start_run(tmp_path, ModelConfig(), long)
    try:
        assert read_status(run)["state"] == "running" and active_run(tmp_path) == run
        with pytest.raises(RuntimeError, match="already going"):
            start_run(tmp_path, ModelConfig(), long)
        assert wait_for(lambda: (read_status(run).get("step") or 0) >= 2)
    finally:
        assert stop_run(run)
    assert wait_for(lambda: read_status(run)["state"] != "running")
    status = read_status(run)
    assert status["state"] == "stopped" and (run / "checkpoint.pt").is_file()
    assert active_run(tmp_path) is None
    assert [d for d, _ in list_runs(tmp_path)] == [run]
    assert not stop_run(run)                      # nothing left to stop


def test_a_run_whose_process_vanished_reads_as_failed(tmp_path):
    write_json_atomic(tmp_path / "status.json", {"state": "running", "pid": 999_999_999})
    status = read_status(tmp_path)
    assert status["state"] == "failed" and status["error"]


def test_half_written_metrics_line_is_skipped(tmp_path):
    rows = [{"split": "train", "step": 1, "loss": 300.0}, {"split": "test", "step": 2, "loss": 200.0}]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"split": "train", "st'
    (tmp_path / "metrics.jsonl").write_text(text)
    assert read_metrics(tmp_path) == rows
    assert read_metrics(tmp_path / "missing") == []

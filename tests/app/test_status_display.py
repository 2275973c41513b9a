"""Issue 16, training status: the Train page words one run's progress alike while it trains and once it
ended (the epoch its last step is in, and the global step), through AppTest on a real run's status files."""
import json

from vae import runfiles

from test_runs import HOLD_LOCK, python
from test_session import stopped_mid_epoch


def shown(app) -> dict:
    """The run's progress line and the reconstructions' caption, as the Train page draws them."""
    assert [e.value for e in app.exception] == []
    captions = [c for image in app.image for c in image.captions if "checkpoint" in c]
    return {"progress": [p.proto.text.split(" · ")[:2] for p in app.get("progress")], "captions": captions}


def test_a_run_reads_the_same_epoch_and_step_while_running_and_once_stopped(open_page, runs_dir, monkeypatch):
    """Issue 16: "epoch 1/2 · step 45" while running, "epoch 0/2 · step 55" once the same run stopped. Here a
    run of 3 epochs of 5 steps stops after step 8, in epoch 2 (vae.runfiles.epoch_of_step: ceil(step / 5))."""
    run_dir = runs_dir / "20260101-120000-mlp-z2"
    written = stopped_mid_epoch(run_dir, monkeypatch)
    stopped = json.loads((run_dir / runfiles.STATUS).read_text())
    after = shown(open_page("app_pages/pages/train.py"))
    at_step_7 = [s for s in written if s["state"] == "running" and s.get("step") == 7][-1]
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, at_step_7)      # the same run as it was at step 7
    with python(HOLD_LOCK, run_dir) as holder:                    # a live process holds the run
        assert holder.stdout.readline() == "holding\n"
        during = shown(open_page("app_pages/pages/train.py"))
        holder.stdin.write("\n")
        holder.stdin.flush()
    assert stopped["state"] == "stopped" and (stopped["step"], stopped["total_steps"]) == (8, 15)
    assert during["progress"] == [["epoch 2/3", "step 7/15"]]
    assert after["progress"] == [["epoch 2/3", "step 8/15"]]
    # the checkpoint: the epoch end's (step 5) while it ran, the stop's (step 8) once it stopped
    assert [c.split("latest ")[-1] for c in during["captions"]] == ["checkpoint (epoch 1/3 · step 5/15)."]
    assert [c.split("latest ")[-1] for c in after["captions"]] == ["checkpoint (epoch 2/3 · step 8/15)."]

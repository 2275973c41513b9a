"""vae.replay: the test encodings saved while training, bounded, and equal to what the model encodes."""
import json

import numpy as np

import vae
from vae import replay
from vae.cli import main
from vae.data import load_mnist
from vae.inference import encode_dataset


def test_thinning_keeps_the_first_and_newest_and_stays_bounded():
    entries = [{"step": s, "epoch": s / 10, "file": f"{s:08d}.npy"} for s in range(200)]
    kept = replay.thinned(entries, limit=60)
    steps = [e["step"] for e in kept]
    assert len(kept) <= 60 and steps[0] == 0 and steps[-1] == 199 and steps == sorted(set(steps))
    assert steps[-30:] == list(range(170, 200))                      # the newest keep their full detail
    assert replay.thinned(entries[:5], limit=60) == entries[:5]


def test_first_epoch_snapshots_are_distinct_steps_inside_the_epoch():
    steps = replay.first_epoch_steps(469)
    assert steps[0] == 0 and steps == sorted(set(steps)) and max(steps) < 469 and len(steps) == 7
    assert replay.first_epoch_steps(2) == [0, 1]


def test_a_training_run_leaves_a_replay_that_matches_its_model(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--run-dir", str(run), "--epochs", "3", "--limit", "512", "--batch-size", "64",
                 "--device", "cpu", "--log-every", "4"]) == 0
    index = replay.read_index(run)
    steps = [e["step"] for e in index]
    assert steps == [0, 1, 2, 4, 6, 8, 16, 24]                        # in epoch 1 (8 steps), then each epoch end
    assert [e["epoch"] for e in index][-3:] == [1.0, 2.0, 3.0]
    assert json.loads((run / "replay" / "index.json").read_text()) == index
    assert sorted(p.name for p in (run / "replay").glob("*.npy")) == sorted(e["file"] for e in index)
    model, _ = vae.load_checkpoint(run / "checkpoint.pt")
    expected = encode_dataset(model, load_mnist("test")[0])
    last = replay.load_snapshot(run, index[-1])
    assert last.shape == (10_000, 2)
    np.testing.assert_allclose(last, expected, atol=2e-3 * np.abs(expected).max() + 1e-3)   # float16 of the same
    first = replay.load_snapshot(run, index[0])
    assert np.abs(first - last).mean() > 10 * np.abs(last - expected).mean()  # the untrained plane differs


def test_an_unreadable_index_reads_as_no_replay(tmp_path):
    (tmp_path / "replay").mkdir()
    for text in ["not json", "{}", '[{"step": "3", "file": "x.npy", "epoch": 1}]', '[{"step": 3, "file": "../x", "epoch": 1}]']:
        (tmp_path / "replay" / "index.json").write_text(text)
        assert replay.read_index(tmp_path) == []

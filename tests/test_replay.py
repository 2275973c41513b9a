"""vae.replay: the test encodings saved while training, bounded, and equal to what the model encodes."""
import json

import numpy as np
import pytest
import torch

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


def diverged(scale: float) -> vae.VAE:
    """A small model whose latent means are `scale` times an ordinary model's: what a diverging run encodes."""
    model = vae.VAE(vae.ModelConfig(hidden=16)).eval()
    with torch.no_grad():
        model.encoder[-1].weight.mul_(scale)
        model.encoder[-1].bias.mul_(scale)
    return model


def test_a_diverging_runs_codes_beyond_float16_are_kept_not_turned_to_inf(tmp_path):
    """Codes past float16's 65,504 are stored as they are (float32): float16 made them ±inf, which the
    replay's plane cannot place. Ordinary codes still take float16's half of the bytes."""
    images = load_mnist("test")[0][:500]
    model = diverged(1e7)
    expected = encode_dataset(model, images)
    assert np.isfinite(expected).all() and np.abs(expected).max() > 10 * float(np.finfo(np.float16).max)
    replay.save_snapshot(tmp_path, model, images, step=3, epoch=0.5)
    entry, = replay.read_index(tmp_path)
    assert "nonfinite" not in entry
    np.testing.assert_array_equal(replay.load_snapshot(tmp_path, entry), expected)

    replay.save_snapshot(tmp_path, diverged(1.0), images, step=4, epoch=1)
    assert np.load(tmp_path / "replay" / replay.read_index(tmp_path)[1]["file"]).dtype == np.float16


def test_codes_that_are_not_numbers_are_counted_and_refused_when_read(tmp_path):
    """A model gone to NaN: the snapshot's entry counts the images whose code is not a finite number, and
    load_snapshot refuses it (a ValueError, which the dashboard's replay skips) instead of handing NaN on;
    so does a float16 snapshot that overflowed to inf under the old writer."""
    images = load_mnist("test")[0][:500]
    model = diverged(1.0)
    with torch.no_grad():
        model.encoder[-1].bias[0] = float("nan")                  # the first latent mean of every image
    replay.save_snapshot(tmp_path, model, images, step=5, epoch=1)
    entry, = replay.read_index(tmp_path)
    assert entry["nonfinite"] == 500
    with pytest.raises(replay.NonFiniteSnapshot, match="step 5 is left out: 500 of 500 test images"):
        replay.load_snapshot(tmp_path, entry)

    old = np.zeros((500, 2), np.float16)
    old[[3, 7], 1] = np.inf                                       # what 1e6 became in float16
    np.save(tmp_path / "replay" / "old.npy", old)
    with pytest.raises(ValueError, match="2 of 500 test images"):
        replay.load_snapshot(tmp_path, {"step": 9, "epoch": 2, "file": "old.npy"})

"""app_pages.catalog: what the model picker offers, and how it labels it."""
from pathlib import Path

import vae
from app_pages import catalog
from vae import lifecycle, runfiles
from vae.data import default_root


def finished_run(root, name, state="finished", with_checkpoint=True, test_loss=160.25, started=1.0):
    run_dir = root / name
    run_dir.mkdir(parents=True)
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {"state": state, "started": started, "epoch": 2,
                                                   "epochs": 3, "test_loss": test_loss,
                                                   "model_config": {"latent_dim": 2}})
    if with_checkpoint:
        (run_dir / runfiles.CHECKPOINT).write_bytes(b"weights")
    return run_dir


def test_shipped_checkpoint_is_labelled_from_its_metadata(tmp_path):
    path = tmp_path / "mnist-2d.pt"
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=3)), {"epoch": 7, "test_metrics": {"neg_elbo": 141.04}})
    choice = catalog.shipped_choice(path)
    assert choice.path == path
    assert (choice.name, choice.details) == ("mnist-2d", "MNIST · z=3 · 7 epochs · test −ELBO 141.0")
    assert choice.label == "mnist-2d · MNIST · z=3 · 7 epochs · test −ELBO 141.0"


def test_missing_or_broken_shipped_checkpoint_offers_nothing(tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"not torch")
    assert catalog.shipped_choice(tmp_path / "missing.pt") is None
    assert catalog.shipped_choice(tmp_path / "broken.pt") is None


def test_only_finished_or_stopped_runs_with_a_checkpoint_are_offered(tmp_path):
    finished_run(tmp_path, "a-finished")
    finished_run(tmp_path, "bb-stopped", state="stopped", test_loss=None, started=2.0)   # the newer
    finished_run(tmp_path, "ccc-failed", state="failed")
    finished_run(tmp_path, "dddd-no-checkpoint", with_checkpoint=False)
    runfiles.rename_run(tmp_path / "a-finished", "my first run")
    labels = [(choice.name, choice.details) for choice in catalog.run_choices(tmp_path)]
    assert labels == [("run bb-stopped", "MNIST · z=2 · 2/3 epochs · stopped · no test loss yet"),
                      ("my first run", "MNIST · z=2 · 2/3 epochs · finished · test −ELBO 160.2")]


def test_a_dataset_that_is_not_a_name_labels_the_run_as_mnist(tmp_path):
    run_dir = finished_run(tmp_path, "odd")
    status = lifecycle.read_status(run_dir)
    runfiles.write_json_atomic(run_dir / runfiles.STATUS, {**status, "train_config": {"dataset": ["fashion-mnist"]}})
    assert [choice.details for choice in catalog.run_choices(tmp_path)] == [
        "MNIST · z=2 · 2/3 epochs · finished · test −ELBO 160.2"]


def test_folders_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(catalog.RUNS_ENV, str(tmp_path / "r"))
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(tmp_path / "m.pt"))
    assert catalog.runs_root() == tmp_path / "r"
    assert catalog.default_checkpoint() == tmp_path / "m.pt"
    monkeypatch.delenv(catalog.RUNS_ENV)
    monkeypatch.delenv(catalog.CHECKPOINT_ENV)
    monkeypatch.chdir(tmp_path)                       # the working folder does not matter
    root = Path(__file__).resolve().parents[1]
    assert catalog.runs_root() == root / "runs"
    assert catalog.default_checkpoint() == root / "checkpoints" / "mnist-2d.pt"
    assert default_root() == root / "data"


def test_every_shipped_model_is_offered_the_default_first_and_named_by_its_file(monkeypatch, tmp_path):
    import vae
    from app_pages.common import url_name

    monkeypatch.delenv(catalog.CHECKPOINT_ENV, raising=False)
    root = Path(__file__).resolve().parents[1] / "checkpoints"
    shipped = catalog.shipped_checkpoints()
    assert shipped[0] == root / "mnist-2d.pt"
    assert shipped[1:] == [root / name for name in catalog.SHIPPED[1:] if (root / name).is_file()]
    assert all(catalog.is_shipped(path) and url_name(path) == path.stem for path in shipped)
    assert url_name(tmp_path / "some-run" / "checkpoint.pt") == "run:some-run"
    fashion = tmp_path / "f.pt"                    # a shipped model's label names its dataset by title
    vae.save_checkpoint(fashion, vae.VAE(vae.ModelConfig(hidden=8, depth=1)),
                        {"epoch": 3, "test_metrics": {"neg_elbo": 241.04}, "dataset": "fashion-mnist"})
    assert catalog.shipped_choice(fashion).details == "Fashion-MNIST · z=2 · 3 epochs · test −ELBO 241.0"
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(fashion))       # a chosen model replaces the shipped ones
    assert catalog.shipped_checkpoints() == [fashion]


def test_a_run_recorded_as_finished_but_diverged_is_not_offered(tmp_path):
    """Issue 19: lr 1 on 4,096 images ended "finished" at 131,725,170.7 nats and was offered as a model (from
    before the trainer failed such runs). A β = 0 run may have a large KL and a -ELBO to match: offered."""
    finished_run(tmp_path, "sound", started=1.0)
    finished_run(tmp_path, "exploded", test_loss=131_725_170.7, started=2.0)
    finished_run(tmp_path, "stopped-exploded", state="stopped", test_loss=116_900.1, started=3.0)
    autoencoder = finished_run(tmp_path, "beta-0", test_loss=5_100.0, started=4.0)
    status = lifecycle.read_status(autoencoder)
    runfiles.write_json_atomic(autoencoder / runfiles.STATUS, {**status, "train_config": {"beta": 0.0}})
    (autoencoder / runfiles.METRICS).write_text('{"split": "test", "step": 9, "loss": 5100.0, "recon": 100.0, "kl": 5000.0}\n')
    offered = [choice.path.parent.name for choice in catalog.run_choices(tmp_path)]
    assert offered == ["beta-0", "sound"]
    assert "131,725,170.7 nats" in runfiles.run_divergence(tmp_path / "exploded", lifecycle.read_status(tmp_path / "exploded"))

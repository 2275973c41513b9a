import re
import struct
from pathlib import Path

import pytest
import torch

from vae import VAE, CheckpointError, ModelConfig, load_checkpoint, save_checkpoint

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist-2d.pt"     # wherever pytest starts


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = VAE(ModelConfig(latent_dim=3, hidden=64)).eval()
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, {"epoch": 4, "dataset": "mnist"})
    return model, path


def test_round_trip_gives_identical_outputs(saved, generator):
    model, path = saved
    loaded, meta = load_checkpoint(path)
    assert not loaded.training
    assert meta["latent_dim"] == 3 and meta["epoch"] == 4 and meta["model_config"]["hidden"] == 64
    x, z = torch.rand(6, 784, generator=generator), torch.randn(6, 3, generator=generator)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x)[0], model.encode(x)[0])
        assert torch.equal(loaded.decode(z), model.decode(z))
    assert not list(path.parent.glob("*.part"))


@pytest.mark.parametrize("content", [b"", b"hello, I am not a checkpoint", b"garbage", None],
                         ids=["empty", "text", "pickle-garbage", "truncated"])
def test_bad_files_give_a_clear_error_naming_the_file(saved, tmp_path, content):
    _, good = saved
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:2000] if content is None else content)
    with pytest.raises(CheckpointError, match="bad.pt: not a readable checkpoint") as refused:
        load_checkpoint(bad)
    assert "weights_only" not in str(refused.value) and "trust" not in str(refused.value)
    # one line: the error's type, then the first line of its message when that line says something
    assert re.search(r"not a torch file\?\): [A-Za-z]+Error(: [^\n]+)?$", str(refused.value)), str(refused.value)


def test_foreign_and_future_files_are_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a VAE Latent Explorer checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "vae-latent-explorer/checkpoint", "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_flipped_bit_in_the_weights_is_a_checksum_error(tmp_path):
    model = VAE(ModelConfig(hidden=32)).eval()
    with torch.no_grad():
        model.decoder[-2].bias[7] = 1234.5678           # a value whose bytes can be found in the file
    save_checkpoint(tmp_path / "model.pt", model, {"epoch": 1})
    data = bytearray((tmp_path / "model.pt").read_bytes())
    at = data.find(struct.pack("<f", 1234.5678))
    assert at > 0 and data.find(struct.pack("<f", 1234.5678), at + 1) == -1
    data[at] ^= 0x01                                    # 1234.5678 -> 1234.5677: still loads, wrongly
    (tmp_path / "flipped.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="flipped.pt: its checksum does not match"):
        load_checkpoint(tmp_path / "flipped.pt")


def test_an_edited_tensor_or_trainer_state_is_a_checksum_error(tmp_path):
    from vae.checkpoint import read_checkpoint

    save_checkpoint(tmp_path / "model.pt", VAE(ModelConfig(hidden=32)), {},
                    extra={"trainer": {"step": 40, "groups": [{"lr": 0.1}, {"lr": 0.2}]}})
    for edit in (lambda p: p["model_state"]["encoder.1.weight"].mul_(2), lambda p: p["trainer"].update(step=41),
                 lambda p: p["trainer"]["groups"][1].update(lr=0.3)):
        payload = read_checkpoint(tmp_path / "model.pt")
        edit(payload)
        torch.save(payload, tmp_path / "edited.pt")
        with pytest.raises(CheckpointError, match="checksum"):
            read_checkpoint(tmp_path / "edited.pt")


def test_a_config_declaring_a_bigger_model_is_refused_before_allocation(tmp_path, monkeypatch):
    """The issue's case: a 7 MB file declaring hidden=30000 cost 14.6 GB before it was rejected.
    Here hidden=4000, within vae.options' bound of 4096 (150 MB, so that a regression costs little): no model
    of that size may be built. (hidden=30000 is now refused by the config itself, before any shape is read.)"""
    import vae.checkpoint
    from vae.checkpoint import read_checkpoint, seal

    save_checkpoint(tmp_path / "model.pt", VAE(ModelConfig(hidden=32)), {})
    payload = read_checkpoint(tmp_path / "model.pt")
    payload["meta"]["model_config"]["hidden"] = 4000
    torch.save(seal(payload), tmp_path / "big.pt")                # whoever edits a file can recompute its checksum
    built = []

    def spy(config=None):
        model = VAE(config)
        built.append((config.hidden, model.device.type))
        return model

    monkeypatch.setattr(vae.checkpoint, "VAE", spy)
    with pytest.raises(CheckpointError, match="big.pt: weights do not fit.* declares [0-9,]+ parameters") as refused:
        load_checkpoint(tmp_path / "big.pt")
    assert "('decoder.0.bias', (32,)), ('decoder.0.bias', (4000,))" in str(refused.value)   # what differs
    assert [device for hidden, device in built if hidden == 4000] in ([], ["meta"])   # shapes only, no memory
    load_checkpoint(tmp_path / "model.pt")                        # a sound file still builds its model
    assert (32, "cpu") in built


@pytest.mark.parametrize("missing", ["meta", "model_state"])
def test_a_checkpoint_without_meta_or_weights_is_a_checkpoint_error(tmp_path, missing):
    from vae.checkpoint import FORMAT_VERSION

    payload = {"format": "vae-latent-explorer/checkpoint", "format_version": FORMAT_VERSION, "meta": {},
               "model_state": {}}
    del payload[missing]
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match=f"partial.pt: the checkpoint has no {missing}"):
        load_checkpoint(tmp_path / "partial.pt")


def test_pickled_code_is_never_executed(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('%s').write_text('owned')" % (tmp_path / "owned"),))

    torch.save({"format": "vae-latent-explorer/checkpoint", "payload": Boom()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt: holds Python objects") as refused:
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "owned").exists()
    assert "weights_only" not in str(refused.value) and "trust" not in str(refused.value)   # no advice to unlock it


def test_shipped_default_checkpoint_loads():
    from vae.checkpoint import checksum, read_checkpoint

    model, meta = load_checkpoint(SHIPPED)
    payload = read_checkpoint(SHIPPED)
    assert payload["checksum"] == checksum(payload)            # verified at every load, not skipped as legacy
    assert meta["latent_dim"] == 2 and meta["dataset"] == "mnist"
    assert meta["test_metrics"]["neg_elbo"] < 150
    assert "python -m vae train" in meta["command"]


def test_half_export_is_half_the_size_and_loads_as_float32(saved, tmp_path, generator):
    from vae.checkpoint import export_checkpoint

    model, path = saved
    export_checkpoint(path, tmp_path / "half.pt", half=True)
    assert (tmp_path / "half.pt").stat().st_size < 0.6 * path.stat().st_size
    loaded, meta = load_checkpoint(tmp_path / "half.pt")
    assert meta["weights_dtype"] == "float16" and meta["epoch"] == 4
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    z = torch.randn(5, 3, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decode(z), model.decode(z), atol=2e-3, rtol=0)


def test_export_drops_the_optimizer_state(tmp_path, generator):
    from vae.checkpoint import export_checkpoint, read_checkpoint

    model = VAE(ModelConfig(hidden=32)).eval()
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(4, 784, generator=generator))[0].sum().backward()
    optimizer.step()                                     # Adam now holds two moments per weight
    run_checkpoint = tmp_path / "run.pt"
    save_checkpoint(run_checkpoint, model, {"epoch": 1}, extra={"trainer": {"optimizer": optimizer.state_dict()}})
    assert "trainer" in read_checkpoint(run_checkpoint)

    export_checkpoint(run_checkpoint, tmp_path / "shared.pt")
    shared = read_checkpoint(tmp_path / "shared.pt")
    assert set(shared) == {"format", "format_version", "model_state", "meta", "checksum"}
    assert shared["meta"]["weights_dtype"] == "float32"
    for name, tensor in model.state_dict().items():
        assert torch.equal(shared["model_state"][name], tensor)
    assert (tmp_path / "shared.pt").stat().st_size < 0.5 * run_checkpoint.stat().st_size


def test_half_precision_casts_only_floating_tensors(tmp_path):
    from vae.checkpoint import read_checkpoint

    model = VAE(ModelConfig(hidden=32)).eval()
    model.register_buffer("images_seen", torch.tensor(70_001))     # float16 would make this inf
    save_checkpoint(tmp_path / "half.pt", model, {}, half=True)
    state = read_checkpoint(tmp_path / "half.pt")["model_state"]
    assert state["images_seen"].dtype == torch.int64 and state["images_seen"].item() == 70_001
    floating = {k: v for k, v in state.items() if k != "images_seen"}
    assert floating and all(v.dtype == torch.float16 for v in floating.values())


def test_a_checkpoint_without_its_checksum_is_refused(saved, tmp_path):
    """The issue's case: with its `checksum` key deleted, a file loaded unverified (and, with negated
    decoder weights, evaluated to 14.1 M nats without a word)."""
    from vae.checkpoint import read_checkpoint

    _, path = saved
    payload = read_checkpoint(path)
    del payload["checksum"]
    payload["model_state"]["decoder.2.weight"].neg_()
    torch.save(payload, tmp_path / "unsealed.pt")
    with pytest.raises(CheckpointError, match="unsealed.pt: has no checksum, so nothing in it can be verified"):
        load_checkpoint(tmp_path / "unsealed.pt")


@pytest.mark.parametrize("edit", [lambda meta: meta["model_config"].update(activation="sigmoid"),
                                  lambda meta: meta.update(dataset="fashion-mnist"),
                                  lambda meta: meta.update(test_metrics={"neg_elbo": 80.0})],
                         ids=["activation", "dataset", "metrics"])
def test_an_edited_meta_is_a_checksum_error(saved, tmp_path, edit):
    """relu edited to sigmoid loaded silently: the same shapes, another model. The meta is covered now."""
    from vae.checkpoint import read_checkpoint

    _, path = saved
    payload = read_checkpoint(path)
    edit(payload["meta"])
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="edited.pt: its checksum does not match its tensors and metadata"):
        load_checkpoint(tmp_path / "edited.pt")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_even_with_a_recomputed_checksum(saved, tmp_path, value):
    """NaN weights with a recomputed checksum loaded, and `evaluate` printed "neg_elbo": NaN (not JSON)."""
    from vae.checkpoint import read_checkpoint, seal

    _, path = saved
    payload = read_checkpoint(path)
    payload["model_state"]["decoder.2.bias"][3] = value
    torch.save(seal(payload), tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match=r"nan.pt: model_state.decoder.2.bias holds NaN or infinite values"):
        load_checkpoint(tmp_path / "nan.pt")


def test_a_format_1_checkpoint_is_refused_with_the_reason(saved, tmp_path):
    """Format 1's checksum left the meta out: such a file cannot be verified, and says so."""
    from vae.checkpoint import checksum, read_checkpoint

    _, path = saved
    payload = read_checkpoint(path)
    payload["format_version"] = 1
    payload["checksum"] = checksum({k: v for k, v in payload.items() if k != "meta"})    # as version 1 wrote it
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=r"old.pt: written by an earlier version \(checkpoint format 1\), "
                                              r"whose checksum left the metadata .* unchecked"):
        load_checkpoint(tmp_path / "old.pt")


def _deflated_bomb(path: Path, good: Path, inflated: int) -> None:
    """`good`'s records plus one deflated record of `inflated` zero bytes: a small file that torch would
    inflate whole. Written in 1 MB chunks, so the test itself never holds it."""
    import zipfile

    path.write_bytes(good.read_bytes())
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        prefix = archive.namelist()[0].split("/")[0]
        with archive.open(f"{prefix}/data/999", "w", force_zip64=True) as record:
            for _ in range(inflated // len(chunk)):
                record.write(chunk)


def test_a_deflated_bomb_is_refused_unread_and_the_refusal_remembered(saved, tmp_path, monkeypatch):
    """The issue's case: an 8 MB file holding a deflated 1 GB record was inflated (870 MB -> 1.8 GB) before
    it was refused, on every visit of the Train page. Here 256 MB of zeros deflate to a 0.3 MB record."""
    import zipfile

    import vae.checkpoint

    _, good = saved
    bomb = tmp_path / "bomb.pt"
    _deflated_bomb(bomb, good, 256 << 20)
    assert bomb.stat().st_size < 2 << 20
    loads, opens = [], []
    real_load, real_zip = torch.load, zipfile.ZipFile
    monkeypatch.setattr(vae.checkpoint.torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    monkeypatch.setattr(vae.checkpoint.zipfile, "ZipFile", lambda *a, **k: opens.append(a) or real_zip(*a, **k))
    for _ in range(3):
        with pytest.raises(CheckpointError, match=r"bomb.pt: its records declare 26[0-9] MB once inflated, from "
                                                  r"a file of 0\.[0-9] MB; .* refused unread"):
            load_checkpoint(bomb)
    assert loads == [] and len(opens) == 1              # never inflated; asked once, then remembered
    load_checkpoint(good)                               # a sound file still loads
    assert len(loads) == 1
    bomb.write_bytes(good.read_bytes())                 # a new version of the file is asked about afresh
    load_checkpoint(bomb)

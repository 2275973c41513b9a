"""vae.export: the one-file explorer. Its packing read back by an independent decoder, the shipped
models' files against their size budgets, and bad input refused with no file left behind. Chromium
opens the files in tests/browser/test_export_browser.py."""
import io
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import vae
from vae import export
from vae.checkpoint import CheckpointError, save_checkpoint
from vae.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"mnist-2d.pt": 6_000_000, "fashion-mnist-2d.pt": 3_000_000}     # bytes, issue 18


def from_text15(encoded: bytes, length: int) -> bytes:
    """The inverse of export.text15 written another way: each character as 16 bits, its top bit dropped."""
    values = np.frombuffer(encoded, dtype="<u2").astype(np.int64) - 0x4000
    assert ((values >= 0) & (values < 2 ** 15)).all()
    bits = np.unpackbits(values.astype(">u2").view(np.uint8)).reshape(-1, 16)[:, 1:].ravel()
    return np.packbits(bits).tobytes()[:length]


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff" * 7, bytes(range(256)) * 3, np.random.default_rng(0).bytes(1001)])
def test_text15_reads_back_the_same_bytes_at_fifteen_bits_a_character(data):
    encoded = export.text15(data)
    assert len(encoded) == 2 * -(-8 * len(data) // 15)
    assert from_text15(encoded, len(data)) == data


def test_packed_weights_are_the_float16_bytes_in_two_planes():
    weights = np.random.default_rng(1).normal(0, 0.1, 1000).astype("<f2").tobytes()
    planes = zlib.decompress(export.packed_weights(weights))
    low, high = planes[:1000], planes[1000:]
    assert bytes(b for pair in zip(low, high) for b in pair) == weights


def test_the_sprite_holds_every_image_where_the_page_reads_it():
    images = np.random.default_rng(2).integers(0, 256, (250, 28, 28), dtype=np.uint8)
    sprite, stored = export.thumbnail_sprite(images, budget=10_000_000)
    assert stored == "lossless WebP"
    sheet = np.asarray(Image.open(io.BytesIO(sprite)).convert("L"))
    for k in (0, 99, 100, 249):
        top, left = (k // export.SPRITE_COLUMNS) * export.SPRITE_PITCH, (k % export.SPRITE_COLUMNS) * export.SPRITE_PITCH
        assert (sheet[top:top + 28, left:left + 28] == images[k]).all()


def test_a_tight_budget_gives_lossy_thumbnails_that_fit():
    images, _ = load_dataset("test", None, dataset="mnist")
    images = images[:2000].numpy()
    lossless, _ = export.thumbnail_sprite(images, budget=10_000_000)
    budget = int(0.85 * len(lossless))                            # lossy WebP is no bargain on digits: a little less
    sprite, stored = export.thumbnail_sprite(images, budget=budget)
    assert stored.startswith("WebP quality") and len(sprite) <= budget
    sheet = np.asarray(Image.open(io.BytesIO(sprite)).convert("L")).astype(int)
    first = sheet[:28, :28]
    assert np.abs(first - images[0]).mean() < 8                     # still the same picture


def page_parts(path: Path) -> tuple[str, dict]:
    """(the page's text, {block name: its bytes}) of an exported file."""
    raw = path.read_bytes()
    assert raw[:2] == b"\xff\xfe", "the file starts with UTF-16-LE's byte order mark"
    text = raw[2:].decode("utf-16-le")
    blocks = {}
    for name, length, body in re.findall(r'<script type="text/plain" id="blob-(\w+)" data-length="(\d+)">([^<]*)</script>', text):
        blocks[name] = from_text15(body.encode("utf-16-le"), int(length))
    return text, blocks


@pytest.mark.slow                                   # two whole exports, 25 s of CPU: `make test-slow`
@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_each_shipped_model_exports_within_its_budget_with_its_own_weights_and_data(tmp_path, name):
    if name.startswith("fashion"):
        try:
            load_dataset("test", None, dataset="fashion-mnist")
        except Exception as exc:                                 # the package is optional on a developer's machine
            pytest.skip(f"Fashion-MNIST is not here: {exc}")
    out = tmp_path / "explorer.html"
    explorer = export.export_html(ROOT / "checkpoints" / name, out)
    assert out.stat().st_size == len(explorer.content) <= BUDGETS[name]
    text, blocks = page_parts(out)
    data = json.loads(re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', text, re.S).group(1))
    model, meta = vae.load_checkpoint(ROOT / "checkpoints" / name)
    dataset = vae.datasets.dataset_of(meta)
    images, labels = load_dataset("test", None, dataset=dataset)
    # the decoder's weights are the dashboard's float16 bytes, and the dots are the test set's encodings
    weights = zlib.decompress(blocks["weights"])
    assert bytes(b for pair in zip(weights[: len(weights) // 2], weights[len(weights) // 2:]) for b in pair) == \
        vae.webdecoder.web_decoder(model).weights
    points = np.frombuffer(blocks["points"], dtype="<f4").reshape(-1, 2)
    assert np.allclose(points, vae.inference.encode_dataset(model, images), atol=1e-5)
    assert (np.frombuffer(blocks["labels"], dtype=np.uint8) == labels.numpy()).all()
    assert data["class_names"] == list(dataset.class_names) and data["header"]["dataset"] == dataset.title
    assert data["header"]["neg_elbo"] == pytest.approx(meta["test_metrics"]["neg_elbo"])
    assert sum(explorer.parts.values()) == len(explorer.content)


def test_an_unreadable_checkpoint_or_a_decoder_the_browser_cannot_run_leaves_no_file(tmp_path):
    out = tmp_path / "explorer.html"
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pt"):
        export.export_html(broken, out)
    assert not out.exists() and list(tmp_path.iterdir()) == [broken]

    model = vae.VAE(vae.ModelConfig()).eval()
    model.decoder.append(nn.Dropout(0.1))                   # a layer the browser's forward pass does not have
    images = np.zeros((3, 28, 28), np.uint8)
    with pytest.raises(CheckpointError, match="cannot be exported.*Dropout"):
        export.explorer_html(model, {}, name="odd", images=images, labels=np.zeros(3), points=np.zeros((3, 2)),
                             basis=vae.inference.dims_basis(2, (0, 1)), axes=("z0", "z1"), note=None,
                             dataset=vae.datasets.MNIST)


def test_a_view_the_model_does_not_have_is_refused_by_name(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)), {"dataset": "mnist"})
    for dims, words in [("0,4", "--dims 0,4"), ("1,1", "--dims 1,1"), ("x", "--dims must be")]:
        with pytest.raises(ValueError, match=words):
            export.export_html(path, tmp_path / "out.html", dims=dims)
    with pytest.raises(ValueError, match="--hold 10000"):
        export.export_html(path, tmp_path / "out.html", dims="0,1", hold=10_000)
    assert not (tmp_path / "out.html").exists()


def test_a_name_cannot_close_the_data_element(tmp_path):
    model = vae.VAE(vae.ModelConfig()).eval()
    torch.manual_seed(0)
    images = np.zeros((4, 28, 28), np.uint8)
    explorer = export.explorer_html(model, {}, name="</script><script>alert(1)</script>", images=images,
                                    labels=np.zeros(4), points=np.zeros((4, 2)),
                                    basis=vae.inference.dims_basis(2, (0, 1)), axes=("z0", "z1"), note=None,
                                    dataset=vae.datasets.MNIST)
    text = explorer.content[2:].decode("utf-16-le")
    # seven elements close: the data, four binary blocks, the old-browser line and the module
    assert "<script>alert(1)" not in text and text.count("</script") == 7
    assert "\\u003c/script>\\u003cscript>alert(1)" in text


@pytest.mark.slow
def test_a_model_of_more_dimensions_shows_the_exported_view_and_says_which(tmp_path):
    path = tmp_path / "z4.pt"
    torch.manual_seed(0)
    save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)), {"dataset": "mnist"})
    for dims, hold, axes, words in [("pca", None, ["PC1", "PC2"], "PCA view"),
                                    ("2,0", 5, ["z2", "z0"], "z2 against z0, the other 2 held at test image #5's values")]:
        out = tmp_path / f"{dims}.html"
        export.export_html(path, out, dims=dims, hold=hold)
        text, _ = page_parts(out)
        data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', text, re.S).group(1))
        assert data["axes"] == axes and words in data["header"]["note"] and data["latent_dim"] == 4
        model, _ = vae.load_checkpoint(path)
        encodings = vae.inference.encode_dataset(model, load_dataset("test", None)[0])
        basis = vae.inference.chosen_plane(4, ("pca",) if dims == "pca" else ("dims", (2, 0), hold), encodings)[0]
        assert np.allclose(data["basis"]["origin"], basis.origin) and np.allclose(data["basis"]["u"], basis.u)
        if hold is not None:                                     # the held dimensions are test image #5's code
            assert np.allclose(np.array(data["basis"]["origin"])[[1, 3]], encodings[5][[1, 3]], atol=1e-6)

"""The classifier that judges decodings: the shipped file reads the test set, a file of an older
architecture is refused with a message (not a traceback), and a saved classifier loads unchanged."""
import pytest
import torch
from torch import nn

from vae.checkpoint import CheckpointError
from vae.classifier import (ARCH, FORMAT, DigitClassifier, classifier_path, fused_for_inference, load_classifier,
                            predict, save_classifier)


def test_the_shipped_classifier_reads_99_percent_of_the_test_set(mnist_test):
    model, meta = load_classifier(classifier_path("mnist"))
    images, labels = mnist_test
    accuracy = (predict(model, images) == labels).float().mean().item()
    assert accuracy >= 0.99 and meta["arch"] == ARCH
    assert accuracy == pytest.approx(meta["test_accuracy"], abs=1e-4)


def test_a_file_of_the_older_architecture_is_refused_by_name(tmp_path):
    # The max-pooling CNN that earlier versions shipped, saved as they saved it: no architecture in meta.
    old = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 49, 128), nn.ReLU(), nn.Linear(128, 10))
    path = tmp_path / "old-classifier.pt"
    torch.save({"format": FORMAT, "state": {f"net.{k}": v for k, v in old.state_dict().items()},
                "meta": {"test_accuracy": 0.9917}}, path)
    with pytest.raises(CheckpointError, match=r"old-classifier.pt: the classifier's architecture \(not recorded.*"
                                              r"train it again with `python -m vae train-classifier`"):
        load_classifier(path)
    meta = {"arch": "something-else"}
    torch.save({"format": FORMAT, "state": DigitClassifier().state_dict(), "meta": meta}, path)
    with pytest.raises(CheckpointError, match=r"\(something-else\) is not this version's"):
        load_classifier(path)


def test_a_saved_classifier_loads_with_the_same_outputs_and_its_architecture(tmp_path):
    torch.manual_seed(0)
    model = DigitClassifier()
    with torch.no_grad():                                    # batch-norm statistics that are not the defaults
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    model.eval()
    save_classifier(tmp_path / "c.pt", model, {"dataset": "mnist"})
    loaded, meta = load_classifier(tmp_path / "c.pt")
    x = torch.rand(16, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert meta == {"dataset": "mnist", "arch": ARCH}


def test_the_fused_copy_reads_as_the_classifier_does_and_leaves_it_alone(mnist_test):
    model, _ = load_classifier(classifier_path("mnist"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = fused_for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    x = mnist_test[0][:500].float().div(255).unsqueeze(1)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=1e-4)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert isinstance(model.net[1], nn.BatchNorm2d)


def test_classifier_files_are_checksummed_and_their_weights_finite(tmp_path):
    """The classifier's files are read as the VAE's checkpoints are: a checksum required and verified
    (the shipped ones carry one), non-finite weights refused."""
    from vae.checkpoint import checksum, seal

    for dataset in ("mnist", "fashion-mnist"):
        payload = torch.load(classifier_path(dataset), weights_only=True)
        assert payload["checksum"] == checksum(payload)
    save_classifier(tmp_path / "c.pt", DigitClassifier().eval(), {"dataset": "mnist"})
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    payload["meta"]["dataset"] = "fashion-mnist"
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="edited.pt: its checksum does not match"):
        load_classifier(tmp_path / "edited.pt")
    del payload["checksum"]
    torch.save(payload, tmp_path / "unsealed.pt")
    with pytest.raises(CheckpointError, match="unsealed.pt: has no checksum.* train it again"):
        load_classifier(tmp_path / "unsealed.pt")
    payload["state"]["net.10.weight"][0, 0] = float("nan")
    torch.save(seal(payload), tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="nan.pt: state.net.10.weight holds NaN or infinite values"):
        load_classifier(tmp_path / "nan.pt")


def test_predict_goes_by_the_dtype_in_any_layout():
    """predict hands the model vae.data.to_float's images: uint8 divided by 255 even when all are 0 or 1,
    float taken as [0, 1] and shaped (N, 1, 28, 28) whether it came as (N, 28, 28) or (N, 784)."""
    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))
            self.seen = []

        def forward(self, x):
            self.seen.append(x.clone())
            return torch.zeros(len(x), 10)

    model = Recorder()
    faint = torch.zeros(3, 28, 28, dtype=torch.uint8)
    faint[:, 3, 4] = 1
    for images in (faint, faint.float() / 255, (faint.float() / 255).reshape(3, 784)):
        assert predict(model, images).tolist() == [0, 0, 0]
    for x in model.seen:
        assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
        assert x[:, 0, 3, 4].tolist() == pytest.approx([1 / 255] * 3) and x.sum().item() == pytest.approx(3 / 255)

"""A small CNN classifier, one per dataset, trained by the project itself, used to judge
reconstructions: a decoded image that this classifier reads as the original's class kept its identity."""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .checkpoint import CheckpointError, load_plain, save_payload, seal, verify
from .data import epoch_batches, to_float
from .datasets import MNIST, Dataset, get_dataset
from .files import PROJECT_ROOT

FORMAT = "vae-latent-explorer/classifier"
ARCH = "strided-cnn-16-32-64-bn"     # recorded in each file's meta: a file of another architecture is refused


def _block(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    """A convolution that halves the image (stride 2, instead of a max-pool after it), batch norm, ReLU."""
    return [nn.Conv2d(cin, cout, kernel, stride=2, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class DigitClassifier(nn.Module):
    """Ten classes of 28×28 grey images (MNIST's digits, Fashion-MNIST's items). Strided convolutions
    keep it at 0.6 M multiply-adds an image (the max-pooling CNN before it took 4.2 M), so it reads the
    decoder's map, 10,000 decodings, in about 0.1 s on two CPU cores."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            *_block(1, 16, 5),                                              # (B, 16, 14, 14)
            *_block(16, 32, 3),                                             # (B, 32, 7, 7)
            *_block(32, 64, 3),                                             # (B, 64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float (B, 1, 28, 28) in [0, 1] -> logits (B, 10)."""
        return self.net(x.reshape(-1, 1, 28, 28))


def fused_for_inference(model: DigitClassifier) -> DigitClassifier:
    """An inference-only copy of `model`: each batch norm folded into the convolution before it, the
    weights in channels-last layout. The same outputs up to float rounding, a third faster on a CPU
    (bench/decoder_map.py); `model` is left as it was."""
    layers, modules = [], list(model.net)
    while modules:
        layer = modules.pop(0)
        if isinstance(layer, nn.Conv2d) and modules and isinstance(modules[0], nn.BatchNorm2d):
            layer = fuse_conv_bn_eval(layer.eval(), modules.pop(0).eval())
        layers.append(copy.deepcopy(layer))
    fast = copy.deepcopy(model)
    fast.net = nn.Sequential(*layers)
    return fast.eval().to(memory_format=torch.channels_last)


def classifier_path(dataset: Dataset | str) -> Path:
    """The shipped classifier of a dataset: checkpoints/<name>-classifier.pt in the project."""
    return PROJECT_ROOT / "checkpoints" / get_dataset(dataset).classifier_file


def train_classifier(images, labels, *, epochs: int = 3, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, on_epoch=None) -> DigitClassifier:
    torch.manual_seed(seed)
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=epochs * -(-len(images) // batch_size))
    for epoch in range(epochs):
        model.train()
        for idx in epoch_batches(len(images), batch_size, torch.Generator().manual_seed(seed + epoch)):
            loss = F.cross_entropy(model(to_float(images[idx])), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if on_epoch:
            on_epoch(epoch + 1, model.eval())
    return model.eval()


@torch.inference_mode()
def predict(model: DigitClassifier, images: torch.Tensor, *, batch_size: int = 2000) -> torch.Tensor:
    """Class of each image, N x 784 pixels in any of vae.data.to_float's layouts, uint8 or float in [0, 1]
    (the dtype decides) -> int64 (N,)."""
    device = next(model.parameters()).device
    out = []
    for chunk in images.split(batch_size):
        out.append(model(to_float(chunk).to(device)).argmax(dim=1).cpu())
    return torch.cat(out)


def save_classifier(path, model: DigitClassifier, meta: dict) -> None:
    save_payload(seal({"format": FORMAT, "state": model.state_dict(), "meta": {**meta, "arch": ARCH}}), path)


def load_classifier(path, map_location="cpu", dataset: Dataset | None = None) -> tuple[DigitClassifier, dict]:
    """(classifier in eval mode, meta); CheckpointError naming the file when it is not a usable one
    (guarded and checksummed as the VAE's checkpoints are), or when `dataset` is given and the classifier
    was trained on another one (files from before datasets were recorded read MNIST)."""
    payload = load_plain(path, map_location, kind="digit-classifier")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a digit-classifier file")
    arch = payload["meta"].get("arch") if isinstance(payload.get("meta"), dict) else None
    if arch != ARCH:
        arch = arch or "not recorded: the max-pooling CNN of earlier versions"
        raise CheckpointError(f"{path}: the classifier's architecture ({arch}) is not this version's ({ARCH}); "
                              "train it again with `python -m vae train-classifier`")
    verify(path, payload, remedy="train it again with `python -m vae train-classifier`")
    model = DigitClassifier()
    try:
        model.load_state_dict(payload["state"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the classifier's weights do not fit: {type(exc).__name__}") from None
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    trained_on = meta.get("dataset", MNIST.name)
    if dataset is not None and trained_on != dataset.name:
        raise CheckpointError(f"{path}: this classifier reads {trained_on}, not {dataset.name}")
    return model.to(map_location).eval(), meta

"""A small CNN classifier, one per dataset, trained by the project itself, used to judge
reconstructions: a decoded image that this classifier reads as the original's class kept its identity."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .checkpoint import CheckpointError
from .data import epoch_batches, to_float
from .datasets import MNIST, Dataset, get_dataset
from .files import PROJECT_ROOT, atomic_path

FORMAT = "vae-latent-explorer/classifier"


class DigitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (B, 64, 7, 7)
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 49, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float (B, 1, 28, 28) in [0, 1] -> logits (B, 10)."""
        return self.net(x.reshape(-1, 1, 28, 28))


def classifier_path(dataset: Dataset | str) -> Path:
    """The shipped classifier of a dataset: checkpoints/<name>-classifier.pt in the project."""
    dataset = dataset if isinstance(dataset, Dataset) else get_dataset(dataset)
    return PROJECT_ROOT / "checkpoints" / dataset.classifier_file


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
    """Class of each image: uint8 (N, 28, 28) or float in [0, 1] (N, 1, 28, 28) -> int64 (N,)."""
    device = next(model.parameters()).device
    out = []
    for chunk in images.split(batch_size):
        x = to_float(chunk) if chunk.dtype == torch.uint8 else chunk.float()
        out.append(model(x.to(device)).argmax(dim=1).cpu())
    return torch.cat(out)


def save_classifier(path, model: DigitClassifier, meta: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "state": model.state_dict(), "meta": meta}, tmp)


def load_classifier(path, map_location="cpu", dataset: Dataset | None = None) -> tuple[DigitClassifier, dict]:
    """(classifier in eval mode, meta); CheckpointError naming the file when it is not a usable one,
    or when `dataset` is given and the classifier was trained on another one (files from before
    datasets were recorded read MNIST)."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable digit-classifier file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a digit-classifier file")
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

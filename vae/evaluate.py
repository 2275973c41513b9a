"""Honest numbers for a trained model: the ELBO terms and the importance-weighted bound, in nats per image."""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from .data import to_float
from .model import VAE, kl_divergence, log_normal, reconstruction_nll


@torch.inference_mode()
def evaluate_elbo(model: VAE, images: torch.Tensor, *, batch_size: int = 1000, seed: int = 0) -> dict:
    """Single-sample -ELBO with its reconstruction and KL terms, averaged over `images` (uint8 (N, 28, 28)).

    The noise comes from a local generator seeded with `seed`, so the figure is repeatable."""
    device = model.device
    gen = torch.Generator(device=device).manual_seed(seed)
    recon_sum = kl_sum = 0.0
    for chunk in images.split(batch_size):
        x = to_float(chunk.to(device))
        mean, logvar = model.encode(x)
        z = model.reparameterize(mean, logvar, gen)
        recon_sum += reconstruction_nll(model.decode_logits(z), x).sum().item()
        kl_sum += kl_divergence(mean, logvar).sum().item()
    n = len(images)
    return {"neg_elbo": (recon_sum + kl_sum) / n, "recon": recon_sum / n, "kl": kl_sum / n}


@torch.inference_mode()
def iwae_log_weights(model: VAE, x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """log p(x|z_i) + log p(z_i) - log q(z_i|x) for k samples per image: (B, k)."""
    mean, logvar = model.encode(x)                                   # (B, L)
    eps = torch.randn((k, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
    z = model.reparameterize(mean, logvar, eps=eps)                  # (k, B, L)
    flat = z.reshape(-1, mean.shape[1])
    x_rep = x.unsqueeze(0).expand(k, *x.shape).reshape(-1, *x.shape[1:])
    log_px = -reconstruction_nll(model.decode_logits(flat), x_rep).reshape(k, -1)
    log_pz = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
    log_qz = log_normal(z, mean, logvar)
    return (log_px + log_pz - log_qz).T


@torch.inference_mode()
def evaluate_iwae(model: VAE, images: torch.Tensor, *, k: int, seed: int = 0, max_decodes: int = 50_000) -> float:
    """The importance-weighted bound (Burda et al. 2016) on -log p(x), nats per image.

    -log (1/k) sum_i w_i with w_i = p(x, z_i) / q(z_i|x); k = 1 is the Monte-Carlo ELBO and
    the bound tightens as k grows. Images are batched so that k * batch decodes fit in memory."""
    if k < 1:
        raise ValueError("k must be at least 1")
    device = model.device
    gen = torch.Generator(device=device).manual_seed(seed)
    per_batch = max(1, max_decodes // k)
    total = 0.0
    for chunk in images.split(per_batch):
        log_w = iwae_log_weights(model, to_float(chunk.to(device)), k, gen)
        total += -(torch.logsumexp(log_w, dim=1) - math.log(k)).sum().item()
    return total / len(images)


def knn_accuracy(ref_z, ref_labels, query_z, query_labels, *, k: int = 5, chunk: int = 1000) -> float:
    """Accuracy of a k-nearest-neighbour vote (Euclidean) of `query_z` against `ref_z`: how well the
    latent plane separates the digits. Ties go to the smaller label."""
    ref_z, query_z = torch.as_tensor(ref_z).float(), torch.as_tensor(query_z).float()
    ref_labels, query_labels = torch.as_tensor(ref_labels), torch.as_tensor(query_labels)
    n_classes = int(max(ref_labels.max(), query_labels.max())) + 1
    correct = 0
    for q, y in zip(query_z.split(chunk), query_labels.split(chunk)):
        nearest = torch.cdist(q, ref_z).topk(k, largest=False).indices          # (chunk, k)
        votes = F.one_hot(ref_labels[nearest], n_classes).sum(dim=1)            # (chunk, classes)
        correct += (votes.argmax(dim=1) == y).sum().item()
    return correct / len(query_z)


@torch.inference_mode()
def class_agreement(classify, model: VAE, images: torch.Tensor, labels: torch.Tensor, *,
                    batch_size: int = 2000) -> float:
    """Fraction of images whose reconstruction (decoded latent mean) `classify` reads as the true label.
    `classify` maps float images (B, 1, 28, 28) to predicted classes (B,)."""
    hits = 0
    for chunk, y in zip(images.split(batch_size), labels.split(batch_size)):
        mean, _ = model.encode(to_float(chunk.to(model.device)))
        hits += (classify(model.decode(mean)).cpu() == y).sum().item()
    return hits / len(images)


def latent_metrics(model: VAE, images: torch.Tensor, labels: torch.Tensor, *, train=None, knn_k: int = 5,
                   classify=None) -> dict:
    """What `python -m vae evaluate` and the Runs page add to the loss, in the CLI's names: with `train`
    (train images, train labels) and knn_k > 0, "knn_accuracy" (a knn_k-NN vote of the test set's latent
    means against the train set's) and "knn_k"; with `classify` (float images (B, 1, 28, 28) -> classes,
    e.g. lambda x: vae.classifier.predict(classifier, x)), "class_agreement" (see class_agreement)."""
    from .inference import encode_dataset

    labels = torch.as_tensor(labels)
    result = {}
    if train is not None and knn_k:
        train_images, train_labels = train
        result["knn_accuracy"] = knn_accuracy(encode_dataset(model, train_images), train_labels,
                                              encode_dataset(model, images), labels, k=knn_k)
        result["knn_k"] = knn_k
    if classify is not None:
        result["class_agreement"] = class_agreement(classify, model, images, labels)
    return result

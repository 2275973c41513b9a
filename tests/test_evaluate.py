import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.distributions import Normal
from torch.nn import functional as F

from vae import VAE, ModelConfig, TrainConfig, Trainer, load_checkpoint
from vae.data import to_float
from vae.evaluate import (class_agreement, evaluate_elbo, evaluate_iwae, iwae_log_weights, knn_accuracy)
from vae.model import kl_divergence, log_normal, reconstruction_nll

ROOT = Path(__file__).resolve().parents[1]
README_NEG_ELBO = 132.11      # README, "The default model": test -ELBO of checkpoints/mnist-2d.pt


@pytest.fixture(scope="module")
def trained(mnist_train, mnist_test):
    torch.manual_seed(0)
    trainer = Trainer(VAE(ModelConfig(hidden=128)), TrainConfig(epochs=2, limit=3000),
                      mnist_train[0][:3000], mnist_test[0][:200])
    trainer.run()
    return trainer.model.eval(), mnist_test[0][:300]


def float64_terms(model, images, eps):
    """The ELBO's pieces in float64 from torch.distributions, for given standard normal noise eps (k, B, L):
    log p(x|z), log p(z), log q(z|x), each (k, B), and the analytic KL(q(z|x) || p(z)), (B,)."""
    model = copy.deepcopy(model).double()
    x = to_float(images).double().reshape(-1, 784)
    with torch.no_grad():
        mean, logvar = model.encode(x)
        q, prior = Normal(mean, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)
        z = mean + q.scale * eps.double()                                        # (k, B, L)
        logits = model.decode_logits(z.reshape(-1, z.shape[-1])).reshape(*z.shape[:2], 784)
        log_px = x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)     # Bernoulli, grey x allowed
        return {"log_px": log_px.sum(-1),
                "log_pz": prior.log_prob(z).sum(-1), "log_qz": q.log_prob(z).sum(-1),
                "kl": torch.distributions.kl_divergence(q, Normal(torch.zeros_like(mean), 1.0)).sum(-1)}


def noise(k, images, latent_dim, seed):
    """The standard normal draws evaluate_* make from a generator seeded with `seed` (one batch)."""
    return torch.randn((k, len(images), latent_dim), generator=torch.Generator().manual_seed(seed))


def test_iwae_is_minus_log_mean_exp_of_the_weights(trained):
    """The bound against a float64 -log (1/k) sum exp(log w) computed with numpy: forgetting the
    1/k (the `- log k`) makes it log k nats too low, and averaging log w instead gives the ELBO."""
    model, images = trained
    images, k, seed = images[:100], 50, 7
    t = float64_terms(model, images, noise(k, images, model.latent_dim, seed))
    log_w = (t["log_px"] + t["log_pz"] - t["log_qz"]).T.numpy()                 # (B, k)
    peak = log_w.max(axis=1, keepdims=True)
    expected = -(peak[:, 0] + np.log(np.exp(log_w - peak).mean(axis=1))).mean()
    assert evaluate_iwae(model, images, k=k, seed=seed) == pytest.approx(expected, rel=1e-5)
    assert expected < -log_w.mean()                              # and tighter than the k-sample ELBO


def test_iwae_tightens_with_k(trained):
    model, images = trained
    elbo = evaluate_elbo(model, images)["neg_elbo"]
    iwae = [evaluate_iwae(model, images, k=k) for k in (1, 10, 200)]
    assert iwae[2] < iwae[1] < elbo
    assert iwae[0] == pytest.approx(elbo, rel=0.02)        # one sample: the same bound, other noise


def test_elbo_matches_a_float64_computation(trained):
    model, images = trained
    result = evaluate_elbo(model, images, seed=3)
    t = float64_terms(model, images, noise(1, images, model.latent_dim, 3))
    recon, kl = -t["log_px"][0], t["kl"]
    assert result["recon"] == pytest.approx(recon.mean().item(), rel=1e-5)
    assert result["kl"] == pytest.approx(kl.mean().item(), rel=1e-5)
    assert result["neg_elbo"] == pytest.approx((recon + kl).mean().item(), rel=1e-5)


def test_shipped_model_reaches_the_figure_the_readme_gives(mnist_test):
    """Recomputed here, not read from the checkpoint's own metadata: the whole test set with
    evaluate_elbo, and a float64 computation of the same figure on its first 1,000 images."""
    model, _ = load_checkpoint(ROOT / "checkpoints" / "mnist-2d.pt")
    images = mnist_test[0]
    assert evaluate_elbo(model, images)["neg_elbo"] == pytest.approx(README_NEG_ELBO, abs=0.02)
    subset = images[:1000]
    t = float64_terms(model, subset, noise(1, subset, model.latent_dim, 0))
    expected = (-t["log_px"][0] + t["kl"]).mean().item()
    assert evaluate_elbo(model, subset)["neg_elbo"] == pytest.approx(expected, rel=1e-5)


def test_k1_weight_is_exactly_the_single_sample_elbo(trained):
    model, images = trained
    x = to_float(images[:20])
    log_w = iwae_log_weights(model, x, 1, torch.Generator().manual_seed(5))[:, 0]
    with torch.no_grad():
        mean, logvar = model.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn((1, *mean.shape), generator=torch.Generator().manual_seed(5))[0]
        direct = -reconstruction_nll(model.decode_logits(z), x) + log_normal(z, 0 * z, 0 * z) - log_normal(z, mean, logvar)
    torch.testing.assert_close(log_w, direct)
    # and its expectation over the noise is the analytic-KL ELBO
    many = torch.stack([iwae_log_weights(model, x, 1, torch.Generator().manual_seed(s))[:, 0] for s in range(300)])
    with torch.no_grad():
        analytic = -reconstruction_nll(model.decode_logits(mean), x) - kl_divergence(mean, logvar)
    assert many.mean().item() < analytic.mean().item() + 1.0     # sampling z only costs, on average


def test_knn_accuracy_on_a_constructed_case():
    ref = torch.tensor([[0.0, 0], [0.1, 0], [0, 0.1], [5, 5], [5.1, 5], [5, 5.1]])
    ref_labels = torch.tensor([0, 0, 0, 1, 1, 1])
    queries = torch.tensor([[0.05, 0.05], [4.9, 5.0], [5.0, 4.8], [0.2, 0.1]])
    assert knn_accuracy(ref, ref_labels, queries, torch.tensor([0, 1, 1, 0]), k=3) == 1.0
    assert knn_accuracy(ref, ref_labels, queries, torch.tensor([0, 1, 0, 0]), k=3) == 0.75
    assert knn_accuracy(ref, ref_labels, queries, torch.tensor([1, 0, 0, 1]), k=3, chunk=1) == 0.0
    assert knn_accuracy(ref, ref_labels, queries, torch.tensor([0, 1, 1, 0]), k=3, chunk=3) == 1.0   # chunks add up


def test_class_agreement_on_a_constructed_case():
    model = VAE(ModelConfig()).eval()
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    always_zero = lambda x: torch.zeros(len(x), dtype=torch.long)  # noqa: E731
    assert class_agreement(always_zero, model, images, labels) == 0.5
    assert class_agreement(always_zero, model, images, torch.zeros(10, dtype=torch.long), batch_size=3) == 1.0

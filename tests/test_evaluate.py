import pytest
import torch

from vae import VAE, ModelConfig, TrainConfig, Trainer
from vae.data import to_float
from vae.evaluate import (class_agreement, evaluate_elbo, evaluate_iwae, iwae_log_weights, knn_accuracy)
from vae.model import kl_divergence, log_normal, reconstruction_nll


@pytest.fixture(scope="module")
def trained(mnist_train, mnist_test):
    torch.manual_seed(0)
    trainer = Trainer(VAE(ModelConfig(hidden=128)), TrainConfig(epochs=2, limit=3000),
                      mnist_train[0][:3000], mnist_test[0][:200])
    trainer.run()
    return trainer.model.eval(), mnist_test[0][:300]


def test_iwae_is_never_looser_than_the_elbo(trained):
    model, images = trained
    elbo = evaluate_elbo(model, images)["neg_elbo"]
    iwae = [evaluate_iwae(model, images, k=k) for k in (1, 10, 200)]
    assert iwae[2] < iwae[1] < elbo
    assert iwae[0] == pytest.approx(elbo, rel=0.02)        # one sample: the same bound, other noise
    # per image too: logsumexp of k weights is at least their mean
    log_w = iwae_log_weights(model, to_float(images[:50]), 100, torch.Generator().manual_seed(0))
    assert torch.all(torch.logsumexp(log_w, 1) - torch.log(torch.tensor(100.0)) >= log_w.mean(1) - 1e-4)


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


def test_class_agreement_on_a_constructed_case():
    model = VAE(ModelConfig()).eval()
    images = torch.zeros(10, 28, 28, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    always_zero = lambda x: torch.zeros(len(x), dtype=torch.long)  # noqa: E731
    assert class_agreement(always_zero, model, images, labels) == 0.5
    assert class_agreement(always_zero, model, images, torch.zeros(10, dtype=torch.long), batch_size=3) == 1.0

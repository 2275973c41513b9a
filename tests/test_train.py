import copy

import pytest
import torch

from vae import VAE, ModelConfig, TrainConfig, Trainer
from vae.train import TrainingDiverged, resolve_device


def small_trainer(mnist_train, mnist_test, **overrides):
    torch.manual_seed(0)
    cfg = TrainConfig(**{"epochs": 2, "limit": 2000, "log_every": 5, **overrides})
    return Trainer(VAE(ModelConfig()), cfg, mnist_train[0][: cfg.limit], mnist_test[0][:500])


def test_seeded_short_run_lowers_the_loss(mnist_train, mnist_test):
    trainer = small_trainer(mnist_train, mnist_test)
    losses, tests = [], []
    trainer.on_step.append(lambda t, e: losses.append(e.loss))
    trainer.on_epoch.append(lambda t, m: tests.append(m["neg_elbo"]))
    assert trainer.run() == "finished"
    assert trainer.step == trainer.total_steps == 2 * 16
    assert losses[0] < 300                      # the decoder starts at the mean image, not at grey (~543 nats)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 10         # ~205 nats at start, ~187 after 32 steps
    assert len(tests) == 2 and tests[1] < tests[0]
    assert all(torch.isfinite(torch.tensor(losses)))


def test_same_seed_same_run(mnist_train, mnist_test):
    runs = []
    for _ in range(2):
        trainer = small_trainer(mnist_train, mnist_test, epochs=1)
        trainer.run()
        runs.append(trainer.last_test["neg_elbo"])
    assert runs[0] == runs[1]


def test_stop_then_resume_gives_bit_identical_weights(mnist_train, mnist_test):
    uninterrupted = small_trainer(mnist_train, mnist_test)
    assert uninterrupted.run() == "finished"

    trainer = small_trainer(mnist_train, mnist_test)
    assert trainer.run(should_stop=lambda: trainer.step == 20) == "stopped"     # mid-epoch 2
    state, weights = copy.deepcopy(trainer.state_dict()), copy.deepcopy(trainer.model.state_dict())
    resumed = small_trainer(mnist_train, mnist_test)
    resumed.model.load_state_dict(weights)
    resumed.load_state_dict(state)
    torch.manual_seed(12345)                    # a new process: the global random state is elsewhere
    seen = []
    resumed.on_step.append(lambda t, e: seen.append(e.step))
    assert resumed.run() == "finished"
    assert seen[0] == 21 and seen[-1] == resumed.total_steps
    for name, tensor in uninterrupted.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name


def test_kl_warmup_ramps_the_weight(mnist_train, mnist_test):
    trainer = small_trainer(mnist_train, mnist_test, kl_warmup_epochs=1.0, beta=1.0)
    betas = []
    trainer.on_step.append(lambda t, e: betas.append(e.beta))
    trainer.run()
    assert betas[0] == pytest.approx(1 / 16) and betas[15] == 1.0 and betas == sorted(betas)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_schedules_change_the_learning_rate(mnist_train, mnist_test, schedule):
    trainer = small_trainer(mnist_train, mnist_test, epochs=1, lr_schedule=schedule, grad_clip=1.0)
    lrs = []
    trainer.on_step.append(lambda t, e: lrs.append(e.lr))
    trainer.run()
    assert max(lrs) <= trainer.config.lr + 1e-12 and lrs[-1] < 0.5 * max(lrs)


def gradient_norms_at_each_step(trainer, steps):
    """The total gradient norm (float64) that the optimizer sees at each of the first `steps` steps."""
    norms = []

    def record(optimizer, args, kwargs):
        grads = [p.grad.double() for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norms.append(torch.sqrt(sum(g.pow(2).sum() for g in grads)).item())

    trainer.optimizer.register_step_pre_hook(record)
    trainer.run(should_stop=lambda: trainer.step == steps)
    return norms


def test_grad_clip_bounds_the_gradient_norm(mnist_train, mnist_test):
    unclipped = gradient_norms_at_each_step(small_trainer(mnist_train, mnist_test, epochs=1), 6)
    clipped = gradient_norms_at_each_step(small_trainer(mnist_train, mnist_test, epochs=1, grad_clip=0.5), 6)
    assert min(unclipped) > 1                   # about 2.5-5 here: the clip has work to do at every step
    assert len(clipped) == 6 and max(clipped) <= 0.5 * (1 + 1e-5)
    assert min(clipped) == pytest.approx(0.5, rel=1e-4)       # scaled down to the bound, not zeroed


def test_a_diverging_run_stops_at_the_first_non_finite_loss(mnist_train, mnist_test):
    trainer = small_trainer(mnist_train, mnist_test, epochs=1, lr=0.3, lr_schedule="constant")
    seen = []
    trainer.on_step.append(lambda t, e: seen.append(e.loss))
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at step (\d+) \(epoch 1\); try a lower"):
        trainer.run()
    assert seen and all(torch.isfinite(torch.tensor(seen)))        # callbacks never see the broken loss
    assert len(seen) == trainer.step - 1


def test_config_validation():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="device"):
        TrainConfig(device="tpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")


def test_constant_schedule_keeps_the_rate(mnist_train, mnist_test):
    trainer = small_trainer(mnist_train, mnist_test, epochs=1, lr_schedule="constant", lr=5e-4)
    lrs = []
    trainer.on_step.append(lambda t, e: lrs.append(e.lr))
    trainer.run()
    assert set(lrs) == {5e-4}

import copy
import itertools
import re
from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

import vae.train
from vae import VAE, ModelConfig, TrainConfig, Trainer
from vae.evaluate import evaluate_elbo
from vae.train import TrainingDiverged, resolve_device, resolve_precision


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
    for name, tensor in uninterrupted.averaged.state_dict().items():
        assert torch.equal(resumed.averaged.state_dict()[name], tensor), name


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


def test_a_diverging_run_stops_at_the_first_non_finite_loss(mnist_train, mnist_test, monkeypatch):
    # The bounded log-variance keeps even lr 1000 finite, so the non-finite loss is planted from step 4 on.
    calls, elbo = [], vae.train.negative_elbo

    def nan_from_step_4(*args, **kwargs):
        calls.append(1)
        loss, recon, kl = elbo(*args, **kwargs)
        return (loss * float("nan"), recon * float("nan"), kl) if len(calls) >= 4 else (loss, recon, kl)

    monkeypatch.setattr(vae.train, "negative_elbo", nan_from_step_4)
    trainer = small_trainer(mnist_train, mnist_test, epochs=1, lr=0.3, lr_schedule="constant")
    seen = []
    trainer.on_step.append(lambda t, e: seen.append(e.loss))
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at step (\d+) \(epoch 1\); try a lower"):
        trainer.run()
    assert seen and all(torch.isfinite(torch.tensor(seen)))        # callbacks never see the broken loss
    assert len(seen) == trainer.step - 1 == 3


def test_a_finite_but_exploded_test_loss_ends_the_run(mnist_train, mnist_test):
    """Issue 19: lr 1 (the form's maximum) ended "finished" at a test -ELBO of 131 M nats. The trainer now
    fails such a run at the epoch's end, before any callback saves or records it."""
    trainer = small_trainer(mnist_train, mnist_test, epochs=2, limit=1024, lr=1.0)
    epochs = []
    trainer.on_epoch.append(lambda t, test: epochs.append(test))
    with pytest.raises(TrainingDiverged, match=r"training diverged: its test -ELBO is [0-9,]+\.[0-9] nats an image, "
                                               r"more than twice .* after epoch 1; try a lower learning rate than 1 "
                                               r"or --grad-clip 1$"):
        trainer.run()
    assert epochs == [] and trainer.last_test["neg_elbo"] > 1e4


@pytest.fixture
def fake_clock(monkeypatch):
    """The trainer's perf_counter advances 0.5 s per call: seconds and images/s become exact."""
    ticks = itertools.count(100.0, 0.5)
    monkeypatch.setattr(vae.train, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))


def test_step_and_epoch_events_report_the_training(mnist_train, mnist_test, fake_clock):
    trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64, seed=7)
    steps, epochs = [], []
    trainer.on_step.append(lambda t, e: steps.append((t, e)))
    trainer.on_epoch.append(lambda t, m: epochs.append((t, m, evaluate_elbo(t.averaged, t.test_images, seed=7))))
    trainer.run()
    assert all(t is trainer for t, _ in steps) and all(t is trainer for t, *_ in epochs)
    events = [e for _, e in steps]
    assert [e.epoch for e in events] == [1] * 4 + [2] * 4
    assert [e.step for e in events] == list(range(1, 9)) and {e.total_steps for e in events} == {8}
    assert all(e.loss == pytest.approx(e.recon + e.kl) and e.recon > 100 and e.kl > 0 for e in events)
    assert [e.seconds for e in events] == [0.5 * n for n in range(1, 9)] and trainer.seconds == 4.0
    assert {e.images_per_sec for e in events} == {64 / 0.5}
    assert [m for _, m, _ in epochs] == [reference for *_, reference in epochs]    # the test set, with the run's seed
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.0               # AdamW's own default is 0.01


def test_a_resumed_run_counts_seconds_and_speed_from_where_it_stopped(mnist_train, mnist_test, fake_clock):
    trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64)
    trainer.run(should_stop=lambda: trainer.step == 3)
    resumed = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64)
    resumed.model.load_state_dict(trainer.model.state_dict())
    resumed.load_state_dict(trainer.state_dict())
    events = []
    resumed.on_step.append(lambda t, e: events.append(e))
    resumed.run()
    assert [e.seconds for e in events] == [1.5 + 0.5 * n for n in range(1, 6)]
    assert {e.images_per_sec for e in events} == {64 / 0.5}


def test_the_trainer_descends_the_beta_weighted_elbo(mnist_train, mnist_test):
    """The gradient of the first step against one computed here in float64 from the same batch and noise:
    mean over the batch of the pixel-summed Bernoulli NLL plus beta times the analytic KL (float32 steps: the
    bfloat16 ones are checked against these below)."""
    trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64, beta=0.25, weight_decay=0.1,
                            precision="float32")
    reference = copy.deepcopy(trainer.model).double()
    seen = {}

    def before_encoding(module, args):
        seen.setdefault("batch", args[0].clone())

    def before_step(optimizer, args, kwargs):
        seen.setdefault("grads", {n: p.grad.clone() for n, p in trainer.model.named_parameters()})

    noise_state = trainer.generator.get_state()          # the first step's noise is the generator's first draw
    trainer.model.encoder.register_forward_pre_hook(before_encoding)
    assert trainer.optimizer.defaults["fused"] is True        # one fused pass over the parameters on a CPU
    trainer.optimizer.register_step_pre_hook(before_step)
    trainer.run(should_stop=lambda: trainer.step == 1)
    x = seen["batch"]
    x = x.double().reshape(64, 784)
    mean, logvar = reference.encode(x)
    eps = torch.randn(mean.shape, generator=torch.Generator().set_state(noise_state)).double()
    logits = reference.decode_logits(mean + torch.exp(0.5 * logvar) * eps).reshape(64, 784)
    recon = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=1).mean()
    kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).sum(dim=1).mean()
    (recon + 0.25 * kl).backward()
    for name, param in reference.named_parameters():
        torch.testing.assert_close(param.grad.float(), seen["grads"][name], rtol=1e-4, atol=1e-6)
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.1


def test_the_decoder_starts_at_the_training_set_mean_image(mnist_train, mnist_test):
    trainer = small_trainer(mnist_train, mnist_test, limit=500)
    mean_image = mnist_train[0][:500].double().mean(dim=0) / 255
    expected = torch.logit(mean_image.clamp(1e-3, 1 - 1e-3)).flatten().float()
    torch.testing.assert_close(trainer.model.decoder[-2].bias.detach(), expected)


def test_the_kl_weight_is_beta_after_its_warm_up(mnist_train, mnist_test):
    for warmup, expected in [(0.0, [0.5] * 8), (0.5, [0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])]:
        trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64, beta=0.5, kl_warmup_epochs=warmup)
        betas = []
        trainer.on_step.append(lambda t, e: betas.append(e.beta))
        trainer.run()
        assert betas == expected, warmup


def test_divergence_messages_say_where_and_what_to_try(mnist_train, mnist_test, monkeypatch):
    trainer = small_trainer(mnist_train, mnist_test, limit=64, batch_size=64, grad_clip=5.0)
    monkeypatch.setattr(vae.train, "evaluate_elbo", lambda *a, **k: {"neg_elbo": float("inf"), "recon": 0, "kl": 0})
    with pytest.raises(TrainingDiverged, match=r"became inf on the test set after epoch 1; try a lower learning "
                                               r"rate than 0\.002$"):
        trainer.run()
    unclipped = small_trainer(mnist_train, mnist_test, limit=64, batch_size=64)
    with pytest.raises(TrainingDiverged, match="rate than 0.002 or --grad-clip 1$"):
        unclipped.run()


GOOD = dict(epochs=1, batch_size=1, lr=1e-9, beta=0.0, kl_warmup_epochs=0.0, grad_clip=0.0, limit=0, log_every=1)
BAD = [("epochs", 0, "Epochs (--epochs) must be between 1 and 1000, got 0"),
       ("batch_size", 0, "Batch size (--batch-size) must be between 1 and 60000"),
       ("lr", 0.0, "Learning rate (--lr) must be greater than 0 and at most 1, got 0.0"),
       ("lr_schedule", "linear", "Learning-rate schedule (--lr-schedule) must be one of constant, onecycle, cosine"),
       ("beta", -0.1, "β (KL weight) (--beta) must be between 0 and 1000"),
       ("kl_warmup_epochs", -1.0, "KL warm-up (epochs) (--kl-warmup-epochs) must be between 0 and 1000"),
       ("grad_clip", -1.0, "Gradient clipping (--grad-clip) must be between 0 and 1e+06"),
       ("limit", -1, "Training subset (--limit) must be between 0 and 60000"),
       ("log_every", 0, "Log interval (steps) (--log-every) must be between 1 and 1e+06"),
       ("device", "tpu", "Device (--device) must be one of auto, cpu, cuda, mps, got 'tpu'")]


@pytest.mark.parametrize("name, value, message", BAD, ids=[b[0] for b in BAD])
def test_config_validation_refuses_just_past_each_bound(name, value, message):
    TrainConfig(**GOOD)                                  # every bound itself is allowed
    for device in ("auto", "cpu", "cuda", "mps", "cuda:1"):
        TrainConfig(device=device)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        TrainConfig(**{**GOOD, name: value})


def test_config_round_trips_through_a_dict_and_ignores_unknown_keys():
    config = TrainConfig(epochs=3, lr=1e-3, beta=0.5, device="cpu")
    assert TrainConfig.from_dict({**config.to_dict(), "from_a_newer_version": 1}) == config
    assert config.to_dict()["lr"] == 1e-3


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
                         ids=["cuda", "mps", "cpu"])
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)
    if not mps:
        with pytest.raises(ValueError, match="^--device mps was asked for, but Apple's MPS is not available here$"):
            resolve_device("mps")
    if not cuda:
        with pytest.raises(ValueError, match="^--device cuda was asked for, but torch sees no CUDA device here$"):
            resolve_device("cuda")


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


def test_the_optimizer_step_is_adamw_and_takes_the_state_of_the_loop_optimizer(mnist_train, mnist_test):
    """The trainer's (fused) optimizer moves the weights as AdamW's reference per-parameter loop does, from
    the same gradients, and resumes from a state that loop saved (checkpoints written before it was fused)."""
    trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64, weight_decay=0.1)
    reference = copy.deepcopy(trainer.model)
    loop = torch.optim.AdamW(reference.parameters(), lr=trainer.config.lr, weight_decay=0.1, foreach=False)
    seen = {}

    def before_step(optimizer, args, kwargs):
        seen.setdefault("grads", [p.grad.clone() for p in trainer.model.parameters()])

    assert trainer.optimizer.defaults["fused"] is True        # one fused pass over the parameters on a CPU
    trainer.optimizer.register_step_pre_hook(before_step)
    trainer.run(should_stop=lambda: trainer.step == 1)
    for param, grad in zip(reference.parameters(), seen["grads"]):
        param.grad = grad
    loop.step()
    for (name, ours), theirs in zip(trainer.model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7, msg=name)
    resumed = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64, weight_decay=0.1)
    resumed.model.load_state_dict(reference.state_dict())
    resumed.load_state_dict({**trainer.state_dict(), "optimizer": loop.state_dict()})
    assert resumed.run(should_stop=lambda: resumed.step == 3) == "stopped"
    assert all(torch.isfinite(p).all() for p in resumed.model.parameters())


@pytest.mark.parametrize("precision, expected", [("float32", torch.float32), ("bfloat16", torch.bfloat16)])
def test_the_steps_run_in_the_chosen_precision_and_the_test_set_in_float32(mnist_train, mnist_test, precision,
                                                                           expected):
    trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64, epochs=1, precision=precision)
    seen = {"steps": set(), "test set": set()}      # dtypes of the decoder's output layer
    trainer.model.decoder[-2].register_forward_hook(lambda m, i, out: seen["steps"].add(out.dtype))
    trainer.averaged.decoder[-2].register_forward_hook(lambda m, i, out: seen["test set"].add(out.dtype))
    trainer.run()
    assert seen == {"steps": {expected}, "test set": {torch.float32}}
    assert trainer.last_test["neg_elbo"] < 543.0            # the test row is a number, below the untrained ~543


@pytest.mark.parametrize("avx512_bf16, amx, device, expected", [
    (True, False, "cpu", "bfloat16"), (False, True, "cpu", "bfloat16"), (False, False, "cpu", "float32"),
    (None, None, "cpu", "float32"), (True, True, "cuda", "float32"),
], ids=["avx512-bf16", "amx", "plain-cpu", "torch-without-the-probes", "cuda"])
def test_auto_precision_is_bfloat16_only_on_a_cpu_that_has_it(monkeypatch, avx512_bf16, amx, device, expected):
    for probe, native in [("_is_avx512_bf16_supported", avx512_bf16), ("_is_amx_tile_supported", amx)]:
        if native is None:                          # an older torch: no such probe, so no native bfloat16
            monkeypatch.delattr(torch.cpu, probe, raising=False)
        else:
            monkeypatch.setattr(torch.cpu, probe, lambda native=native: native, raising=False)
    assert resolve_precision("auto", torch.device(device)) == expected
    assert [resolve_precision(p, torch.device(device)) for p in ("float32", "bfloat16")] == ["float32", "bfloat16"]


def test_bfloat16_steps_descend_as_float32_steps_do(mnist_train, mnist_test):
    """Two epochs on 3,000 images take the test -ELBO from ~543 to ~177 nats in float32; bfloat16 steps
    land within a nat of it (0.24 here)."""
    final = {}
    for precision in ("float32", "bfloat16"):
        trainer = small_trainer(mnist_train, mnist_test, limit=3000, epochs=2, precision=precision)
        trainer.run()
        final[precision] = trainer.last_test["neg_elbo"]
    assert final["float32"] < 200 and abs(final["bfloat16"] - final["float32"]) < 1.0


def test_the_averaged_weights_follow_the_moving_average_of_the_steps(mnist_train, mnist_test):
    """The weights the test rows measure: w_avg <- d w_avg + (1 - d) w after each step, with
    d = min(0.99, (1 + step) / (10 + step)), recomputed here in float64 from the weights after every step."""
    trainer = small_trainer(mnist_train, mnist_test, limit=640, batch_size=64, epochs=2)
    expected = {name: p.detach().double().clone() for name, p in trainer.model.named_parameters()}
    after_steps = []

    def follow(t, event):
        decay = min(0.99, (1 + t.step) / (10 + t.step))
        for name, p in t.model.named_parameters():
            expected[name] = decay * expected[name] + (1 - decay) * p.detach().double()
        after_steps.append({name: p.detach().clone() for name, p in t.model.named_parameters()})

    trainer.on_step.append(follow)
    trainer.run()
    assert len(after_steps) == 20
    for name, p in trainer.averaged.named_parameters():
        torch.testing.assert_close(p.double(), expected[name], rtol=1e-5, atol=1e-6, msg=name)
        assert not torch.allclose(p, after_steps[-1][name])             # an average, not the last weights
    assert trainer.last_test == evaluate_elbo(trainer.averaged, trainer.test_images, seed=trainer.config.seed)


def test_a_state_from_before_the_average_resumes_with_the_loaded_weights_as_the_average(mnist_train, mnist_test):
    trainer = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64)
    trainer.run(should_stop=lambda: trainer.step == 3)
    old_state = {k: v for k, v in trainer.state_dict().items() if k not in ("weights", "averaged")}
    resumed = small_trainer(mnist_train, mnist_test, limit=256, batch_size=64)
    resumed.model.load_state_dict(trainer.model.state_dict())           # what the CLI loads from the checkpoint
    resumed.load_state_dict(old_state)
    for (name, p), q in zip(resumed.averaged.named_parameters(), trainer.model.parameters()):
        assert torch.equal(p, q), name
    assert resumed.run() == "finished"

"""What `python -m vae train` does before its first step, and what it no longer does there."""
import json
import subprocess
import sys
from pathlib import Path

import torch

from vae import VAE, ModelConfig, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]

TRAIN_AND_RESUME = """
import json, sys, torch
from vae import VAE, ModelConfig, TrainConfig, Trainer
images = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
trainer = Trainer(VAE(ModelConfig(hidden=16)), TrainConfig(epochs=1, batch_size=32, device="cpu"), images, images[:8])
trainer.run()
again = Trainer(VAE(ModelConfig(hidden=16)), TrainConfig(epochs=2, batch_size=32, device="cpu"), images, images[:8])
again.load_state_dict(trainer.state_dict())
again.run()
print(json.dumps({"dynamo": "torch._dynamo" in sys.modules, "steps": again.step}))
"""


def test_training_and_resuming_never_import_torch_dynamo():
    """torch.optim's decorators import torch._dynamo (1.2 s of CPU) at the optimizer's first call; the
    trainer's AdamW goes around them: a fresh interpreter trains, saves and resumes without it."""
    done = subprocess.run([sys.executable, "-c", TRAIN_AND_RESUME], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"dynamo": False, "steps": 4}


def test_the_trainers_adamw_steps_and_saves_as_torchs_adamw():
    """torch's own AdamW, given the trainer's gradients and learning rates step by step, ends at the
    trainer's weights; the two load each other's state_dict (checkpoints move between them)."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (96, 28, 28), dtype=torch.uint8)
    config = TrainConfig(epochs=1, batch_size=32, lr=3e-3, weight_decay=0.2, device="cpu")
    trainer = Trainer(VAE(ModelConfig(hidden=32)), config, images, images[:8])
    reference = VAE(ModelConfig(hidden=32))
    reference.load_state_dict(trainer.model.state_dict())
    theirs = torch.optim.AdamW(reference.parameters(), lr=3e-3, weight_decay=0.2, fused=True)
    steps = []
    trainer.optimizer.register_step_pre_hook(lambda opt, *_: steps.append(
        (opt.param_groups[0]["lr"], [p.grad.clone() for p in trainer.model.parameters()])))
    trainer.run()
    assert len(steps) == 3 and len({lr for lr, _ in steps}) == 3        # the cosine schedule moved the rate
    for lr, grads in steps:
        theirs.param_groups[0]["lr"] = lr
        for param, grad in zip(reference.parameters(), grads):
            param.grad = grad
        theirs.step()
    for (name, ours), expected in zip(trainer.model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(ours, expected, rtol=0, atol=0, msg=name)
    ours_state, their_state = trainer.optimizer.state_dict(), theirs.state_dict()
    assert ours_state["param_groups"][0].keys() - {"initial_lr"} == their_state["param_groups"][0].keys()
    theirs.load_state_dict(ours_state)
    trainer.optimizer.load_state_dict(their_state)
    for key in ("exp_avg", "exp_avg_sq", "step"):
        torch.testing.assert_close(trainer.optimizer.state[next(trainer.model.parameters())][key],
                                   theirs.state[next(reference.parameters())][key], rtol=0, atol=0)

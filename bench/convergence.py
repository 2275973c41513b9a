"""Test -ELBO against training progress, for choosing the settings that reach a quality soonest.

    .venv/bin/python bench/convergence.py [--seeds 0 1 2] [--epochs 2.5] [--every 0.25] [--batch-size 128]
        [--lr 2e-3] [--lr-schedule cosine] [--schedule-epochs 20] [--precision auto|float32|bfloat16]
        [--beta2 0.999] [--threads 1]

Trains the default model with the real Trainer and evaluates the whole test set every `--every` epoch
(the evaluation has its own generator: it does not change the training): `neg_elbo` of the averaged
weights, which the run's test rows report, and `raw_neg_elbo` of the weights being trained. Nats depend
on the settings only, not on the machine's load, so these figures can be taken on a busy CPU. Prints one JSON line per
evaluation and, per seed, the first evaluation at or below 150 nats.
"""
import argparse
import json
import time

import torch


from vae import VAE, ModelConfig, TrainConfig, Trainer
from vae.data import load_mnist
from vae.evaluate import evaluate_elbo
from vae.options import PRECISIONS


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=2.5)
    parser.add_argument("--every", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--lr-schedule", default=TrainConfig.lr_schedule)
    parser.add_argument("--schedule-epochs", type=int, default=TrainConfig.epochs,
                        help="the run the schedule is laid out for (the default's 20 epochs)")
    parser.add_argument("--precision", default=TrainConfig.precision, choices=PRECISIONS,
                        help="the trainer's precision for the training steps (auto: bfloat16 on a CPU that has it)")
    parser.add_argument("--beta2", type=float, default=None,
                        help="AdamW's second-moment decay (default: the trainer's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--target", type=float, default=150.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    train, test = load_mnist("train")[0], load_mnist("test")[0]
    for seed in args.seeds:
        torch.manual_seed(seed)
        cfg = TrainConfig(epochs=args.schedule_epochs, batch_size=args.batch_size, lr=args.lr,
                          lr_schedule=args.lr_schedule, seed=seed, device="cpu", precision=args.precision)
        trainer = Trainer(VAE(ModelConfig()), cfg, train, test)
        if args.beta2 is not None:
            for group in trainer.optimizer.param_groups:
                group["betas"] = (group["betas"][0], args.beta2)
        every = max(1, round(args.every * trainer.steps_per_epoch))
        last = round(args.epochs * trainer.steps_per_epoch)
        rows, started = [], time.process_time()

        def evaluate(t, event):
            if t.step % every == 0 or t.step == last:
                nats = evaluate_elbo(t.averaged, test, seed=seed)["neg_elbo"]     # what the run's test row says
                t.model.eval()
                raw = evaluate_elbo(t.model, test, seed=seed)["neg_elbo"]         # the weights being trained
                t.model.train()
                rows.append({"seed": seed, "epoch": round(t.step / t.steps_per_epoch, 3), "step": t.step,
                             "neg_elbo": round(nats, 2), "raw_neg_elbo": round(raw, 2),
                             "cpu_seconds": round(time.process_time() - started, 1)})
                print(json.dumps(rows[-1]), flush=True)

        trainer.on_step.append(evaluate)
        trainer.run(should_stop=lambda: trainer.step >= last)
        first = next((r for r in rows if r["neg_elbo"] <= args.target), None)
        print(json.dumps({"seed": seed, "first_at_target": first}), flush=True)


if __name__ == "__main__":
    main()

"""The tutorial's VAE pipeline, made runnable and with its loss repaired: the reference for bench/time_to_quality.py.

As printed, the tutorial's code does not run and averages the BCE over pixels while summing
the KL. Here: its MLP (sigmoid encoder, tanh/sigmoid decoder, 784-400-400-2), a torchvision
MNIST dataset with ToTensor through a DataLoader (batch 128, shuffled), Adam 1e-3, and the
negative ELBO summed over pixels and latent dims. After each epoch it evaluates the test set
and prints one JSON line, so the caller can time it.
"""
import argparse
import json
import time

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import MNIST


class Encoder(nn.Module):
    def __init__(self, input_dim=784, hidden_dim=400, latent_dim=2):
        super().__init__()
        self.linear1 = nn.Linear(input_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, hidden_dim)
        self.linear3 = nn.Linear(hidden_dim, 2 * latent_dim)

    def forward(self, x):
        out = torch.sigmoid(self.linear1(x))
        out = torch.sigmoid(self.linear2(out))
        return self.linear3(out).chunk(2, dim=-1)


class Decoder(nn.Module):
    def __init__(self, latent_dim=2, hidden_dim=400, output_dim=784):
        super().__init__()
        self.linear1 = nn.Linear(latent_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, hidden_dim)
        self.linear3 = nn.Linear(hidden_dim, output_dim)

    def forward(self, z):
        out = torch.tanh(self.linear1(z))
        out = torch.sigmoid(self.linear2(out))
        return torch.sigmoid(self.linear3(out))


def loss_fn(recon, x, mean, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum") / len(x)          # repaired: summed over pixels
    kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / len(x)
    return bce + kl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="data")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    tf = transforms.Compose([transforms.ToTensor()])
    trainloader = DataLoader(MNIST(args.root, train=True, transform=tf), batch_size=128, shuffle=True)
    testloader = DataLoader(MNIST(args.root, train=False, transform=tf), batch_size=128, shuffle=False)
    encoder, decoder = Encoder(), Decoder()
    opt = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        for x, _ in trainloader:
            x = x.view(-1, 784)
            mean, logvar = encoder(x)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            loss = loss_fn(decoder(z), x, mean, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
        total = 0.0
        with torch.no_grad():
            for x, _ in testloader:
                x = x.view(-1, 784)
                mean, logvar = encoder(x)
                z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
                total += loss_fn(decoder(z), x, mean, logvar).item() * len(x)
        print(json.dumps({"epoch": epoch, "test_loss": total / len(testloader.dataset), "time": time.time()}),
              flush=True)


if __name__ == "__main__":
    main()

"""vae.webdecoder: the decoder as the browser receives it. A numpy forward pass written from the
format's description alone must reproduce torch's decoding, for both architectures."""
import numpy as np
import pytest
import torch
from torch import nn

import vae
from vae import inference
from vae.locations import default_checkpoint
from vae.webdecoder import UnsupportedDecoder, reference_decode, web_decoder


def numpy_decode(decoder, z: np.ndarray) -> np.ndarray:
    """Run the layer list on the float16 blob, independently of torch: (B, 28, 28) probabilities."""
    weights = np.frombuffer(decoder.weights, dtype="<f2").astype(np.float64)
    offset, x = 0, z.astype(np.float64)

    def take(count):
        nonlocal offset
        offset += count
        return weights[offset - count: offset]

    acts = {"relu": lambda v: np.maximum(v, 0), "elu": lambda v: np.where(v > 0, v, np.expm1(v)),
            "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}
    for layer in decoder.layers:
        if layer["op"] == "linear":
            w = take(layer["in"] * layer["out"]).reshape(layer["out"], layer["in"])
            x = x @ w.T + take(layer["out"])
        elif layer["op"] == "act":
            x = acts[layer["fn"]](x)
        elif layer["op"] == "reshape":
            x = x.reshape(len(x), *layer["shape"])
        else:                                             # transposed convolution, by its definition
            cin, cout, k, s, p = layer["in"], layer["out"], layer["kernel"], layer["stride"], layer["padding"]
            w = take(cin * cout * k * k).reshape(cin, cout, k, k)
            h, wd = x.shape[2], x.shape[3]
            full = np.zeros((len(x), cout, (h - 1) * s + k, (wd - 1) * s + k))
            for iy in range(h):
                for ix in range(wd):
                    full[:, :, iy * s: iy * s + k, ix * s: ix * s + k] += np.einsum("bc,cokl->bokl", x[:, :, iy, ix], w)
            x = full[:, :, p: full.shape[2] - p, p: full.shape[3] - p] + take(cout)[None, :, None, None]
    assert offset == len(weights), "the layers did not consume exactly the blob"
    return (1 / (1 + np.exp(-x.reshape(len(x), -1)))).reshape(-1, 28, 28)


@pytest.mark.parametrize("config", [
    vae.ModelConfig(latent_dim=3, hidden=32, depth=2, activation="elu"),
    vae.ModelConfig(latent_dim=2, arch="conv", hidden=24, channels=4, activation="tanh"),
], ids=["mlp", "conv"])
def test_the_format_decodes_as_torch_does(config):
    torch.manual_seed(0)
    model = vae.VAE(config).eval()
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.mul_(3)                                   # varied digits, not a flat grey
    decoder = web_decoder(model)
    z = np.random.default_rng(0).normal(0, 2, (16, config.latent_dim)).astype(np.float32)
    expected = reference_decode(model, z)
    assert expected.std() > 0.1
    np.testing.assert_allclose(numpy_decode(decoder, z), expected, atol=1e-5)
    # and the float16 rounding is all that separates it from the float32 model
    assert np.abs(expected - inference.decode_points(model, z)).max() < 0.02


def test_the_shipped_model_exports_exactly_its_float16_weights():
    model, _ = vae.load_checkpoint(default_checkpoint())
    decoder = web_decoder(model)
    assert decoder.parameter_count == sum(p.numel() for p in model.decoder.parameters())
    blob = np.frombuffer(decoder.weights, dtype="<f2")
    torch_order = torch.cat([p.detach().flatten() for p in model.decoder.parameters()]).numpy()
    assert (blob == torch_order.astype(np.float16)).all()     # stored as float16: no rounding at all


def test_a_layer_the_browser_cannot_run_is_refused_by_name():
    model = vae.VAE(vae.ModelConfig(hidden=16)).eval()
    model.decoder[1] = nn.LeakyReLU()
    with pytest.raises(UnsupportedDecoder, match="LeakyReLU"):
        web_decoder(model)

"""The decoder as the browser runs it: a list of layers and one flat float16 weight blob.

The dashboard's latent plane decodes under the pointer in the browser with a small forward pass
of its own (app_pages/plane/decoder.js). This module describes a trained decoder in the terms that
forward pass understands, so nothing but plain numbers crosses to the browser:

    layers: [{"op": "linear", "in": 2, "out": 768}, {"op": "act", "fn": "relu"},
             {"op": "reshape", "shape": [64, 7, 7]},
             {"op": "conv_transpose", "in": 64, "out": 32, "kernel": 4, "stride": 2, "padding": 1,
              "height": 7, "width": 7}, ...]
    weights: for each linear layer its weight (out, in) then its bias (out,); for each transposed
             convolution its weight (in, out, k, k) then its bias (out,); float16, little-endian,
             in layer order.

The last layer yields logits; the browser applies the sigmoid, as `VAE.decode` does.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .messages import N_, say
from .model import ACTIVATION_LAYERS, VAE


class UnsupportedDecoder(ValueError):
    """The decoder holds a layer the browser's forward pass does not implement; the message names it."""


@dataclass(frozen=True)
class WebDecoder:
    layers: list[dict]
    weights: bytes          # float16 little-endian, in the order `layers` consume them
    latent_dim: int

    @property
    def parameter_count(self) -> int:
        return len(self.weights) // 2

    @property
    def key(self) -> str:
        """What the browser caches this decoder under ("decoder-<digest>" of its layers and weights): the
        dashboard's plane and the exported file name it alike, and the browser tests look for the prefix."""
        return "decoder-" + hashlib.sha256(repr(self.layers).encode() + self.weights).hexdigest()[:20]


def weight_planes(weights: bytes) -> bytes:
    """float16 bytes as their low-byte plane then their high-byte plane: the high bytes (sign and
    exponent) repeat, so the planes compress better than the interleaved bytes (decoder.js:
    decoderWeights puts them back together)."""
    planes = np.frombuffer(weights, dtype=np.uint8).reshape(-1, 2).T
    return np.ascontiguousarray(planes).tobytes()


_ACTIVATION_NAMES = {cls: name for name, cls in ACTIVATION_LAYERS.items()}


def web_decoder(model: VAE) -> WebDecoder:
    """Describe `model.decoder` for the browser; raises UnsupportedDecoder for a layer it cannot run."""
    layers, tensors = [], []
    shape: tuple[int, ...] = (model.latent_dim,)            # the activation's shape after each layer
    for module in model.decoder:
        if isinstance(module, nn.Linear):
            layers.append({"op": "linear", "in": module.in_features, "out": module.out_features})
            tensors += [module.weight, module.bias]
            shape = (module.out_features,)
        elif type(module) in _ACTIVATION_NAMES:
            layers.append({"op": "act", "fn": _ACTIVATION_NAMES[type(module)]})
        elif isinstance(module, nn.Unflatten):
            shape = tuple(int(s) for s in module.unflattened_size)
            layers.append({"op": "reshape", "shape": list(shape)})
        elif isinstance(module, nn.ConvTranspose2d) and _plain_transpose(module):
            if len(shape) != 3:
                raise UnsupportedDecoder(say(N_("a transposed convolution must follow a (channels, height, width) reshape")))
            channels, height, width = shape
            k, s, p = module.kernel_size[0], module.stride[0], module.padding[0]
            layers.append({"op": "conv_transpose", "in": module.in_channels, "out": module.out_channels,
                           "kernel": k, "stride": s, "padding": p, "height": height, "width": width})
            tensors += [module.weight, module.bias]
            shape = (module.out_channels, (height - 1) * s - 2 * p + k, (width - 1) * s - 2 * p + k)
        else:
            raise UnsupportedDecoder(say(N_("the browser cannot run a {layer} layer"), layer=type(module).__name__))
    if int(np.prod(shape)) != 28 * 28:
        raise UnsupportedDecoder(say(N_("the decoder ends with shape {shape}, not 28×28 pixels"), shape=str(shape)))
    blob = np.concatenate([t.detach().cpu().float().numpy().ravel() for t in tensors]).astype("<f2")
    return WebDecoder(layers, blob.tobytes(), model.latent_dim)


def _plain_transpose(module: nn.ConvTranspose2d) -> bool:
    """Square kernel, equal strides and padding, no dilation, groups or output padding, with a bias."""
    return (module.kernel_size[0] == module.kernel_size[1] and module.stride[0] == module.stride[1]
            and module.padding[0] == module.padding[1] and module.dilation == (1, 1) and module.groups == 1
            and module.output_padding == (0, 0) and module.bias is not None)


@torch.inference_mode()
def reference_decode(model: VAE, z: np.ndarray) -> np.ndarray:
    """What the browser should draw for latent points z (B, latent): torch's decoder run on the
    float16-rounded weights the browser receives, as pixel probabilities (B, 28, 28)."""
    rounded = VAE(model.config)
    rounded.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return rounded.eval().decode(torch.as_tensor(z, dtype=torch.float32))[:, 0].numpy()

"""Plotly figures and image tiles for the dashboard. Plain figures in, no Streamlit here."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vae.data import to_float


def loss_chart(rows: list[dict], height: int = 430, _=lambda text: text) -> go.Figure:
    """Training loss over steps with its reconstruction and KL terms (KL on the right-hand axis,
    it is ~30× smaller), and the test loss at each epoch end on the loss axis. `_` translates its words
    (the page passes app_pages.i18n._; English by default)."""
    train = [r for r in rows if r.get("split") == "train"]
    test = [r for r in rows if r.get("split") == "test"]
    steps = [r["step"] for r in train]
    fig = go.Figure([
        go.Scatter(x=steps, y=[r["loss"] for r in train], name=_("train −ELBO"), line=dict(color="#1f77b4")),
        go.Scatter(x=steps, y=[r["recon"] for r in train], name=_("reconstruction"), line=dict(color="#2ca02c", dash="dot")),
        go.Scatter(x=steps, y=[r["kl"] for r in train], name=_("KL (right axis)"), yaxis="y2",
                   line=dict(color="#d62728", dash="dash")),
        go.Scatter(x=[r["step"] for r in test], y=[r["loss"] for r in test], name=_("test −ELBO (epoch end)"),
                   mode="markers+lines", marker=dict(size=9, symbol="diamond", color="#ff7f0e"),
                   customdata=[r["epoch"] for r in test],
                   hovertemplate=_("epoch %{customdata}: %{y:.2f} nats") + "<extra></extra>"),
    ])
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), hovermode="x unified",
                      uirevision="loss", legend=dict(orientation="h", yanchor="top", y=-0.18),
                      xaxis=dict(title=_("step")), yaxis=dict(title=_("nats per image")),
                      # tickmode "auto": an overlaying axis defaults to "sync", ticks at the loss axis's grid
                      # lines, which fall on values like 0.941 and 1.954 of KL
                      yaxis2=dict(title=_("KL (nats)"), overlaying="y", side="right", showgrid=False, rangemode="tozero",
                                  tickmode="auto"))
    return fig


def enlarge(image: np.ndarray, scale: int = 10) -> np.ndarray:
    """A (H, W) image in [0, 1] or uint8 -> uint8 (H·scale, W·scale) with crisp square pixels,
    so browsers do not blur a 28×28 digit shown large."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.uint8(np.clip(np.round(image * 255), 0, 255))
    return np.kron(image, np.ones((scale, scale), dtype=np.uint8))


def digit_rows(*rows: np.ndarray, gap: int = 2) -> np.ndarray:
    """Rows of digits, each (K, 28, 28), uint8 or float in [0, 1] (vae.data.to_float: the dtype decides),
    tiled as one image with a grey gap between digits."""
    k = rows[0].shape[0]
    tile = np.full((len(rows) * (28 + gap) - gap, k * (28 + gap) - gap), 0.35, dtype=np.float32)
    for r, digits in enumerate(rows):
        for c, digit in enumerate(to_float(np.asarray(digits))[:, 0].numpy()):
            top, left = r * (28 + gap), c * (28 + gap)
            tile[top: top + 28, left: left + 28] = digit
    return tile

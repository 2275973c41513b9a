"""Plotly figures and image tiles for the dashboard. Plain figures in, no Streamlit here."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

DIGIT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
GRID_CELLS = 80              # clickable lattice cells per axis: ~7 px apart on a 560 px plot
GRID_NAME, CHOSEN_NAME = "plane", "decoded point"


def plane_extent(points: np.ndarray, *, coverage: float = 99.5, pad: float = 0.1) -> tuple[float, float, float, float]:
    """A square (x0, x1, y0, y1) around the bulk of `points` (N, 2), padded and rounded out to 0.5,
    so that equal-aspect axes fill a square plot."""
    lo = np.percentile(points, 100 - coverage, axis=0)
    hi = np.percentile(points, coverage, axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + pad)
    x0, y0 = np.floor((centre - half) * 2) / 2
    x1, y1 = np.ceil((centre + half) * 2) / 2
    side = max(x1 - x0, y1 - y0)                                   # keep it square after rounding
    return float(x0), float(x0 + side), float(y0), float(y0 + side)


def click_grid(extent, cells: int = GRID_CELLS) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a (cells+1)² lattice over extent, flattened: the invisible points a click lands on."""
    gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], cells + 1), np.linspace(extent[2], extent[3], cells + 1))
    return gx.ravel().astype(np.float32), gy.ravel().astype(np.float32)


def nearest_lattice_point(extent, xy, cells: int = GRID_CELLS) -> tuple[int, tuple[float, float]]:
    """(index into click_grid, its (x, y)) of the lattice point nearest to xy."""
    gx, gy = click_grid(extent, cells)
    index = int(np.argmin((gx - xy[0]) ** 2 + (gy - xy[1]) ** 2))
    return index, (float(gx[index]), float(gy[index]))


def latent_plane(points: np.ndarray, labels: np.ndarray, extent, *, clickable: bool = True,
                 selected: int | None = None, marked=None, axis_titles=("z₀", "z₁"), height: int = 560,
                 marker_size: int = 4) -> go.Figure:
    """The encoded digits (N, 2) coloured by label (WebGL, a legend entry per digit), an invisible
    clickable lattice over `extent` when `clickable` with lattice point `selected` shown selected,
    and a cross at `marked` (x, y).

    Plotly itself marks what the user clicks, as the selected lattice point (or dot), so the figure
    stays the same on every click and the browser need not redraw 10,000 points; `selected` only
    sets the first mark."""
    keep = dict(marker=dict(opacity=0.55))                         # do not dim the others on a click
    picked = dict(marker=dict(color="black", size=11, opacity=1))
    traces = [go.Scattergl(x=points[labels == d, 0], y=points[labels == d, 1], mode="markers", name=str(d),
                           marker=dict(size=marker_size, color=DIGIT_COLOURS[d], opacity=0.55),
                           selected=picked, unselected=keep,
                           hovertemplate=f"digit {d}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>")
              for d in range(10)]
    if clickable:
        gx, gy = click_grid(extent)
        traces.append(go.Scattergl(x=gx, y=gy, mode="markers", name=GRID_NAME, showlegend=False,
                                   hoverinfo="none", marker=dict(size=6, opacity=0),
                                   selectedpoints=None if selected is None else [selected],
                                   selected=picked,
                                   unselected=dict(marker=dict(opacity=0))))
    if marked is not None:
        # WebGL too: a WebGL layer is drawn above SVG traces, so an SVG cross would hide under the dots.
        traces.append(go.Scattergl(x=[marked[0]], y=[marked[1]], mode="markers", name=CHOSEN_NAME,
                                   hoverinfo="skip", marker=dict(symbol="x", size=18, color="black",
                                                                 line=dict(width=2, color="white"))))
    fig = go.Figure(traces)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), hovermode="closest",
                      clickmode="event+select", dragmode=False, uirevision="plane",
                      legend=dict(title="digit (click to hide):", orientation="h", y=1.0, yanchor="bottom",
                                  itemsizing="constant"),
                      plot_bgcolor="#f7f7f7")
    fig.update_xaxes(range=extent[:2], fixedrange=True, title=axis_titles[0], constrain="domain")
    fig.update_yaxes(range=extent[2:], fixedrange=True, title=axis_titles[1], scaleanchor="x", scaleratio=1,
                     constrain="domain")
    return fig


def loss_chart(rows: list[dict], height: int = 430) -> go.Figure:
    """Training loss over steps with its reconstruction and KL terms (KL on the right-hand axis,
    it is ~30× smaller), and the test loss at each epoch end on the loss axis."""
    train = [r for r in rows if r.get("split") == "train"]
    test = [r for r in rows if r.get("split") == "test"]
    steps = [r["step"] for r in train]
    fig = go.Figure([
        go.Scatter(x=steps, y=[r["loss"] for r in train], name="train −ELBO", line=dict(color="#1f77b4")),
        go.Scatter(x=steps, y=[r["recon"] for r in train], name="reconstruction", line=dict(color="#2ca02c", dash="dot")),
        go.Scatter(x=steps, y=[r["kl"] for r in train], name="KL (right axis)", yaxis="y2",
                   line=dict(color="#d62728", dash="dash")),
        go.Scatter(x=[r["step"] for r in test], y=[r["loss"] for r in test], name="test −ELBO (epoch end)",
                   mode="markers+lines", marker=dict(size=9, symbol="diamond", color="#ff7f0e"),
                   customdata=[r["epoch"] for r in test],
                   hovertemplate="epoch %{customdata}: %{y:.2f} nats<extra></extra>"),
    ])
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), hovermode="x unified",
                      uirevision="loss", legend=dict(orientation="h", yanchor="top", y=-0.18),
                      xaxis=dict(title="step"), yaxis=dict(title="nats per image"),
                      yaxis2=dict(title="KL (nats)", overlaying="y", side="right", showgrid=False, rangemode="tozero"))
    return fig


def enlarge(image: np.ndarray, scale: int = 10) -> np.ndarray:
    """A (H, W) image in [0, 1] or uint8 -> uint8 (H·scale, W·scale) with crisp square pixels,
    so browsers do not blur a 28×28 digit shown large."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.uint8(np.clip(np.round(image * 255), 0, 255))
    return np.kron(image, np.ones((scale, scale), dtype=np.uint8))


def digit_rows(*rows: np.ndarray, gap: int = 2) -> np.ndarray:
    """Rows of digits, each (K, 28, 28) in [0, 1], tiled as one image with a grey gap between digits."""
    k = rows[0].shape[0]
    tile = np.full((len(rows) * (28 + gap) - gap, k * (28 + gap) - gap), 0.35, dtype=np.float32)
    for r, digits in enumerate(rows):
        for c, digit in enumerate(np.asarray(digits, dtype=np.float32)):
            top, left = r * (28 + gap), c * (28 + gap)
            tile[top: top + 28, left: left + 28] = digit / (255.0 if digit.max() > 1 else 1.0)
    return tile

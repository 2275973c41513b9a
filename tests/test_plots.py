"""vae.plots: the latent plane's geometry and figures, the loss chart, image tiles."""
import numpy as np

from vae import plots


def test_plane_extent_is_square_rounded_and_covers_the_bulk():
    points = np.random.default_rng(0).normal([1.0, -2.0], [1.0, 3.0], size=(10_000, 2))
    x0, x1, y0, y1 = plots.plane_extent(points)
    assert x1 - x0 == y1 - y0
    assert all(v * 2 == round(v * 2) for v in (x0, x1, y0, y1))
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    assert inside.mean() > 0.99


def test_the_lattice_is_fine_and_its_nearest_point_is_near():
    extent = (-4.0, 4.0, -3.0, 5.0)
    gx, gy = plots.click_grid(extent)
    assert len(gx) == (plots.GRID_CELLS + 1) ** 2
    step = (extent[1] - extent[0]) / plots.GRID_CELLS
    index, (x, y) = plots.nearest_lattice_point(extent, (0.33, 1.01))
    assert (gx[index], gy[index]) == (np.float32(x), np.float32(y))
    assert abs(x - 0.33) <= step / 2 + 1e-6 and abs(y - 1.01) <= step / 2 + 1e-6


def test_latent_plane_has_a_trace_per_digit_an_invisible_lattice_and_equal_axes():
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(500, 2)), rng.integers(0, 10, 500)
    figure = plots.latent_plane(points, labels, (-3, 3, -3, 3), selected=7)
    names = [trace.name for trace in figure.data]
    assert names == [str(d) for d in range(10)] + [plots.GRID_NAME]
    assert sum(len(trace.x) for trace in figure.data[:10]) == 500
    lattice = figure.data[-1]
    assert lattice.marker.opacity == 0 and lattice.hoverinfo == "none" and list(lattice.selectedpoints) == [7]
    assert figure.layout.yaxis.scaleanchor == "x" and figure.layout.xaxis.fixedrange
    marked = plots.latent_plane(points, labels, (-3, 3, -3, 3), clickable=False, marked=(0.5, -1.0))
    assert [trace.name for trace in marked.data][-1] == plots.CHOSEN_NAME


def test_loss_chart_separates_train_terms_and_test_epochs():
    rows = [{"split": "train", "epoch": 1, "step": s, "loss": 200 - s, "recon": 195 - s, "kl": 5.0} for s in (20, 40)]
    rows.append({"split": "test", "epoch": 1, "step": 40, "loss": 170.0, "recon": 165.0, "kl": 5.0})
    figure = plots.loss_chart(rows)
    assert [len(trace.x) for trace in figure.data] == [2, 2, 2, 1]
    assert figure.data[2].yaxis == "y2" and list(figure.data[3].y) == [170.0]


def test_enlarge_and_digit_rows_keep_pixels_crisp():
    digit = np.zeros((28, 28), np.float32)
    digit[3, 4] = 1.0
    big = plots.enlarge(digit, 10)
    assert big.shape == (280, 280) and big.dtype == np.uint8
    assert big[30:40, 40:50].min() == 255 and big.sum() == 255 * 100
    tile = plots.digit_rows(np.stack([digit] * 3), np.stack([digit * 255] * 3))
    assert tile.shape == (58, 88) and tile[3, 4] == 1.0 and tile[30 + 3, 4] == 1.0

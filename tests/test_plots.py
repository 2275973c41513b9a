"""app_pages.plots: the loss chart, image tiles."""
import numpy as np

from app_pages import plots


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
    tile = plots.digit_rows(np.stack([digit] * 3), np.stack([digit * 255] * 3).astype(np.uint8))
    assert tile.shape == (58, 88) and tile[3, 4] == 1.0 and tile[30 + 3, 4] == 1.0


def test_digit_rows_go_by_the_dtype_not_the_values():
    """uint8 pixels are divided by 255 even when all are 0 or 1 (a faint digit stays faint); float pixels
    are taken as [0, 1] and never rescaled (vae.data.to_float), whatever their largest value."""
    faint = np.zeros((2, 28, 28), np.uint8)
    faint[:, 3, 4] = 1
    tile = plots.digit_rows(faint, faint.astype(np.float32))
    assert tile[3, 4] == np.float32(1 / 255) and tile[3, 30 + 4] == np.float32(1 / 255)
    assert tile[30 + 3, 4] == 1.0 and tile[30 + 3, 30 + 4] == 1.0


def test_the_kl_axis_places_its_own_ticks():
    """Issue 16: the KL axis read 0.941, 1.954, …: plotly.js gives an axis that overlays another tickmode
    "sync" unless told otherwise, ticks at the loss axis's grid lines, wherever they fall in KL. "auto"
    takes its own round steps (tests/browser/test_loss_chart_browser.py reads the labels drawn)."""
    rows = [{"split": "train", "epoch": 1, "step": s, "loss": 200 - s, "recon": 195 - s, "kl": 1.0 + s / 40}
            for s in (20, 40)]
    layout = plots.loss_chart(rows).layout
    assert layout.yaxis2.overlaying == "y" and layout.yaxis2.tickmode == "auto"

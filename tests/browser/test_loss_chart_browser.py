"""The Train page's loss chart drawn by plotly.js in Chromium: the tick labels a person reads."""
import math

import pytest

from app_pages import plots

pytestmark = pytest.mark.slow            # `make test-slow`: Chromium, seconds


def drawn_ticks(chromium, figure) -> dict[str, list[float]]:
    """The numbers on the loss axis (y) and the KL axis (y2) once plotly.js has drawn `figure`."""
    page = chromium.new_page()
    try:
        page.set_content(figure.to_html(include_plotlyjs=True, full_html=True))
        page.locator(".y2tick text").first.wait_for(state="attached")
        return {axis: [float(t.replace("−", "-")) for t in page.locator(f".{axis}tick text").evaluate_all(
                    "els => els.map(e => e.textContent)")] for axis in ("y", "y2")}
    finally:
        page.close()


def round_step(ticks: list[float]) -> bool:
    """Evenly spaced ticks at whole multiples of a step of 1, 2 or 5 times a power of ten."""
    steps = [b - a for a, b in zip(ticks, ticks[1:])]
    if len(ticks) < 2 or max(steps) - min(steps) > 1e-9 * max(steps):
        return False
    power = 10 ** math.floor(math.log10(steps[0]))
    mantissa = steps[0] / power
    return (any(math.isclose(mantissa, m) for m in (1, 2, 5))
            and all(math.isclose(t / steps[0], round(t / steps[0]), abs_tol=1e-6) for t in ticks))


@pytest.mark.parametrize("kl_from, kl_to", [(0.9, 2.0), (2.5, 31.0)])
def test_the_kl_axis_is_labelled_in_round_numbers(chromium, kl_from, kl_to):
    """Issue 16: the KL axis read 0.941, 1.954, … (plotly.js's "sync" ticks: the loss axis's grid lines)."""
    n = 100
    rows = [{"split": "train", "epoch": 1, "step": 10 * i, "loss": 200 - i / 2, "recon": 195 - i / 2,
             "kl": kl_from + (kl_to - kl_from) * i / (n - 1)} for i in range(n)]
    rows.append({"split": "test", "epoch": 1, "step": 10 * (n - 1), "loss": 140.0, "recon": 135.0, "kl": kl_to})
    ticks = drawn_ticks(chromium, plots.loss_chart(rows))
    assert round_step(ticks["y"]), ticks
    assert round_step(ticks["y2"]) and len(ticks["y2"]) >= 3, ticks

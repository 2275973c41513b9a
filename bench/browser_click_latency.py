"""Click-to-image latency on the latent plane in a real Chromium: from the mouse click to the new
decoded image being loaded in the page, over several clicks at random spots.

    .venv/bin/python bench/browser_click_latency.py [--clicks 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

import numpy as np  # noqa: E402
from harness import DECODED_IMAGE, VIEWPORT, AppServer, click_plane, launch_chromium, open_app  # noqa: E402


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args()
    spots = np.random.default_rng(0).uniform(0.05, 0.95, size=(args.clicks, 2))
    with tempfile.TemporaryDirectory() as scratch, AppServer(Path(scratch) / "runs", Path(scratch) / "log") as server, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        open_app(page, f"{server.url}/latent", DECODED_IMAGE)
        seconds = []
        for fx, fy in spots:
            seconds.append(click_plane(page, fx, fy)[0])
            page.wait_for_timeout(300)
        browser.close()
    ms = sorted(1e3 * s for s in seconds)
    print(f"click to new decoded image, {len(ms)} clicks: median {statistics.median(ms):.0f} ms, "
          f"min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")


if __name__ == "__main__":
    main()

"""The one-file explorer (vae.export) of each shipped model: its size and what each part costs, how far
the test images' thumbnails are from the dataset's bytes, and how soon the file is usable when opened
from disk in Chromium (from navigation to the decoder ready, and to the test images ready; medians of
--opens, measured inside the page).

    .venv/bin/python bench/export_file.py [--opens 5]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))   # the browser harness, a test helper (vae is installed)

from harness import launch_chromium  # noqa: E402
from vae.data import load_dataset  # noqa: E402
from vae.export import SPRITE_COLUMNS, SPRITE_PITCH, export_html, thumbnail_sprite  # noqa: E402

MODELS = {"mnist-2d": "mnist", "fashion-mnist-2d": "fashion-mnist"}
READY = """window.__t = {}; const seen = (prefix) => window.__vaeLatentCache
    && [...window.__vaeLatentCache.blobs.keys()].some((key) => key.startsWith(prefix) || key.includes(prefix));
const poll = setInterval(() => {
  if (!window.__t.decoder && seen('decoder-')) window.__t.decoder = performance.now();
  if (!window.__t.images && seen('-test-')) window.__t.images = performance.now();
  if (window.__t.decoder && window.__t.images) clearInterval(poll);
}, 2);"""


def thumbnail_error(dataset: str) -> str:
    images = load_dataset("test", None, dataset=dataset)[0].numpy()
    sprite, stored = thumbnail_sprite(images)
    sheet = np.asarray(Image.open(io.BytesIO(sprite)).convert("L")).astype(int)
    tiles = (sheet.reshape(-1, SPRITE_PITCH, SPRITE_COLUMNS, SPRITE_PITCH).transpose(0, 2, 1, 3)
             .reshape(-1, SPRITE_PITCH, SPRITE_PITCH)[: len(images), :28, :28])
    error = np.abs(tiles - images)
    return (f"{stored}, {len(sprite) / 1e6:.2f} MB; error against the dataset's bytes: mean {error.mean():.2f}/255, "
            f"99th percentile {np.percentile(error, 99):.0f}/255, max {error.max()}/255")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opens", type=int, default=5)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for name, dataset in MODELS.items():
            path = Path(scratch) / f"{name}.html"
            explorer = export_html(ROOT / "checkpoints" / f"{name}.pt", path)
            parts = ", ".join(f"{part} {size / 1e6:.2f} MB" for part, size in explorer.parts.items())
            print(f"{name}: {len(explorer.content) / 1e6:.2f} MB ({parts})")
            print(f"  thumbnails: {thumbnail_error(dataset)}")
            decoder, images = [], []
            for _ in range(args.opens):
                context = browser.new_context()
                context.set_offline(True)
                page = context.new_page()
                page.add_init_script(READY)
                page.goto(path.as_uri())
                page.wait_for_function("() => window.__t.decoder && window.__t.images", polling=50, timeout=60_000)
                times = page.evaluate("() => window.__t")
                decoder.append(times["decoder"])
                images.append(times["images"])
                context.close()
            print(f"  opened from disk, network off (median of {args.opens}): decoder ready "
                  f"{statistics.median(decoder):.0f} ms, test images ready {statistics.median(images):.0f} ms "
                  f"after navigation")
        browser.close()
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

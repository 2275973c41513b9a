"""Server memory while 8 sessions upload a 50-megapixel photo at once, in a real Chromium.

    .venv/bin/python bench/upload_memory.py [--sessions 8] [--megapixels 50]

Prints the server's resident memory (VmRSS of the streamlit process) before (warm: one session has
reconstructed a small upload, filling the caches all sessions share), at its peak while the uploads
are read and reconstructed, and 10 s after the last reconstruction was shown.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))   # the browser harness, a test helper (vae is installed)

from harness import VIEWPORT, AppServer, launch_chromium, open_app, upload, wait_until_idle  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def big_png(megapixels: float) -> bytes:
    """A photo-sized PNG of a handwritten-looking 7 on off-white paper (compresses to a few MB)."""
    side = int((megapixels * 1e6) ** 0.5)
    picture = Image.new("L", (side, side), 235)
    draw = ImageDraw.Draw(picture)
    draw.line([(side * 0.3, side * 0.25), (side * 0.7, side * 0.25), (side * 0.45, side * 0.8)],
              fill=30, width=max(3, side // 25))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--megapixels", type=float, default=50)
    args = parser.parse_args()
    data = big_png(args.megapixels)
    with tempfile.TemporaryDirectory() as scratch, AppServer(Path(scratch) / "runs", Path(scratch) / "log") as server, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        pages = [browser.new_page(viewport=VIEWPORT) for _ in range(args.sessions)]
        for page in pages:
            page.set_default_timeout(300_000)
            open_app(page, f"{server.url}/reconstruct", '[data-testid="stFileUploaderDropzoneInput"]')
        warm = pages[0]                                  # one reconstruction first: the caches every session
        upload(warm, "small.png", big_png(0.3), "image/png")   # shares (test set, encodings, plane data) fill
        warm.locator('[data-testid="stImage"]', has_text="reconstruction").wait_for()
        wait_until_idle(warm)
        time.sleep(2)
        pid = server.process.pid
        baseline = rss_mb(pid)
        peak, sampling = [baseline], True

        def sample() -> None:
            while sampling:
                peak.append(rss_mb(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        for page in pages:
            upload(page, "photo.png", data, "image/png")
        for page in pages:
            page.locator('[data-testid="stImage"]', has_text="reconstruction").wait_for()
            wait_until_idle(page)
        seconds = time.perf_counter() - started
        time.sleep(10)
        sampling = False
        sampler.join()
        after = rss_mb(pid)
        browser.close()
    print(f"{args.sessions} sessions uploading a {args.megapixels:g} MP PNG ({len(data) / 1e6:.1f} MB) at once: "
          f"server RSS {baseline:.0f} MB before, peak {max(peak):.0f} MB, {after:.0f} MB 10 s after the last "
          f"reconstruction ({after - baseline:+.0f} MB); all reconstructed in {seconds:.1f} s")


if __name__ == "__main__":
    main()

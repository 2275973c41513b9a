"""The latent plane in a real Chromium, three figures:

- hover: 300 pointer moves across the plane, with the machine idle and again with both cores busy (two
  `while True: pass` processes the bench starts and stops); for each decoding, the time from the
  pointer event's timeStamp to the preview canvas holding it (the plane decodes once per animation
  frame, for the latest position), and separately how long events waited before their handler ran;
- layout: the plane's side at 1920×1080, 1400×1000, 1024×768 and 414×896 (touch), and the cumulative
  layout shift of loading /latent (Chrome's layout-shift entries without recent input, summed; the
  median of three loads), in all and without Streamlit's own switch of its frame to the wide layout;
- pin round trip: from a click's pointerup until Python's new pinned point is on the page and no
  script run is going (measured inside the page);
- payload: bytes the server sent over the websocket on the first load of the Latent page, and on a
  later rerun (a pin), counted from the frames Chromium received; and, for a new browser (cold
  cache), a second tab of it and a reload of that tab, the bytes over the websocket and the bytes of
  the decoder's and the test images' files over HTTP (Chrome's own count, CDP Network events: 0 for
  a file taken from the browser's cache), with the seconds until the decoder was ready;
- page: from navigation to the title, to the plane drawn and to the decoder ready, for a fresh
  server's first page and (median of --tabs) for new tabs of a browser that has the app's files cached.

- decode (--only decode): the decoder's forward pass alone, in a blank Chromium page, for each shipped
  model: building it from its float16 weights, one point (p50/p95 of 600 random points of [-3, 3]^d)
  and a batch of 400 (the manifold's grid of 20 x 20); each the median of --tabs pages.

- sliders (--only sliders, on a model with more than two latent dimensions, the shipped mnist-16d by
  default): for --moves slider moves, from the input event's timeStamp to the sliders' decoding drawn;
  and the time until the traversals (every dimension from −3 to +3) are drawn after a move.

    .venv/bin/python bench/browser_plane.py [--moves 300] [--pins 15] [--only payload|hover|layout|sliders|decode]
                                            [--model NAME]  (hover: the plane of that model's menu name)
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))   # the browser harness, a test helper (vae is installed)

import numpy as np  # noqa: E402
from harness import (PLANE, VIEWPORT, AppServer, NetworkLog, launch_chromium, open_app, open_plane,  # noqa: E402
                     page_point, pin_round_trip, plane_box, settle, wait_for_decoder, wait_for_test_images,
                     wait_traversals, wait_until_idle)

LAYOUT_SIZES = [(1920, 1080), (1400, 1000), (1024, 768), (414, 896)]
LOADS = 3                                     # loads of /latent per size: the layout shift is their median
# Each layout-shift entry, and whether it is only Streamlit's own frame switch: its main block moving
# sideways from the default centred width to the wide layout that set_page_config asks for.
CLS_JS = """window.__vaeShift = [0, 0]; new PerformanceObserver((list) => { for (const entry of list.getEntries()) {
    if (entry.hadRecentInput) continue;
    const shell = entry.sources.every((s) => s.node && s.node.dataset && s.node.dataset.testid === 'stMainBlockContainer'
                                             && s.previousRect.x !== s.currentRect.x && s.previousRect.y === s.currentRect.y);
    window.__vaeShift[0] += entry.value; if (!shell) window.__vaeShift[1] += entry.value; }
}).observe({type: 'layout-shift', buffered: true});"""


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def page_times(page, url: str) -> tuple[float, float, float]:
    """Seconds from navigating to /latent until the title, the plane drawn, the decoder ready; closes the tab."""
    started = time.perf_counter()
    page.goto(f"{url}/latent")
    page.locator("h1").first.wait_for(timeout=120_000)
    title = time.perf_counter() - started
    page.locator(".vlp-plane[data-view]").first.wait_for(timeout=120_000)
    plane = time.perf_counter() - started
    wait_for_decoder(page, timeout=120_000)
    ready = time.perf_counter() - started
    page.close()
    return title, plane, ready


def hover_times(page, rng, moves: int) -> tuple[list, list]:
    """(event to preview drawn, event to handler) in ms for a random walk of `moves` pointer moves."""
    page.evaluate("() => { window.__vaeHoverTimings.length = 0; window.__vaeHoverQueued.length = 0; }")
    for fx, fy in rng.uniform(0.03, 0.97, size=(moves, 2)):
        page.mouse.move(*page_point(page, fx, fy))
    settle(page)
    return page.evaluate("() => window.__vaeHoverTimings.slice()"), page.evaluate("() => window.__vaeHoverQueued.slice()")


def layout(browser, url: str) -> list[tuple[int, int, float, list, list]]:
    """(width, height, the plane's side in px, the cumulative layout shift of each of LOADS loads of
    /latent, the same without Streamlit's frame switch) per size; 414×896 as a phone (touch)."""
    out = []
    for width, height in LAYOUT_SIZES:
        phone = width < 500
        shifts = []
        for _ in range(LOADS):
            context = browser.new_context(viewport={"width": width, "height": height}, has_touch=phone, is_mobile=phone)
            page = context.new_page()
            page.add_init_script(CLS_JS)
            open_plane(page, url)
            page.wait_for_timeout(1500)                              # late arrivals: images, the manifold
            shifts.append(page.evaluate("() => window.__vaeShift"))
            side = plane_box(page)["width"]
            context.close()
        out.append((width, height, side, [a for a, _ in shifts], [b for _, b in shifts]))
    return out


def load_bytes(context, page, url: str | None) -> dict:
    """Open `url` in `page` (or reload it when None) until the decoder is ready and the test images are
    all in: {"ws": bytes over the websocket, "http": bytes of the plane's files over the network,
    "files": how many were asked for, "cached": how many of them came from the browser's cache,
    "decoder": seconds until the decoder was ready}."""
    log = NetworkLog(context, page)
    started = time.perf_counter()
    if url is None:
        page.reload()
    else:
        page.goto(url)
    wait_for_decoder(page, timeout=120_000)
    ready = time.perf_counter() - started
    wait_for_test_images(page, timeout=120_000)
    wait_until_idle(page)
    page.wait_for_timeout(1000)
    log.close()
    return {"ws": log.websocket, "http": log.file_bytes, "files": len(log.files),
            "cached": sum(f["cached"] for f in log.files.values()), "decoder": ready}


def payload(browser, url: str) -> list[tuple[str, dict]]:
    """load_bytes for a new browser's first tab on /latent, a second tab, and a reload of the second."""
    context = browser.new_context(viewport=VIEWPORT)
    first = load_bytes(context, context.new_page(), f"{url}/latent")
    tab = context.new_page()
    second = load_bytes(context, tab, f"{url}/latent")
    reload = load_bytes(context, tab, None)
    context.close()
    return [("first load, cold cache", first), ("second tab", second), ("reload", reload)]


def print_payload(loads: list[tuple[str, dict]]) -> None:
    for name, n in loads:
        print(f"payload, {name}: websocket {n['ws'] / 1e6:.2f} MB, plane's files over HTTP {n['http'] / 1e6:.2f} MB "
              f"({n['files']} files, {n['cached']} from the browser's cache); decoder ready after {n['decoder']:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")


def hover_both(page, rng, moves: int) -> list:
    """[(name, load, drawn, waited)]: a random walk of pointer moves over the plane, with the machine as
    it is ("idle"), then with both cores busy (two spinning processes, started and stopped here)."""
    out = [("idle", os.getloadavg()[0], *hover_times(page, rng, moves))]
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(2)
        out.append(("both cores busy", os.getloadavg()[0], *hover_times(page, rng, moves)))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    return out


def print_hover(moves: int, *runs) -> None:
    for name, load, drawn, waited in runs:
        print(f"hover, {moves} pointer moves, {name} (load {load:.1f}): {len(drawn)} decodings, event to preview "
              f"drawn p50 {percentile(drawn, 50):.2f} ms, p95 {percentile(drawn, 95):.2f} ms, max {max(drawn):.2f} ms; "
              f"event to its handler p50 {percentile(waited, 50):.2f} ms, p95 {percentile(waited, 95):.2f} ms")


def print_layout(sizes) -> None:
    for width, height, side, shift, ours in sizes:
        print(f"layout at {width}×{height}: the plane is {side:.0f} px a side; cumulative layout shift of loading "
              f"/latent, median of {len(shift)}: {statistics.median(shift):.3f} in all, {statistics.median(ours):.3f} "
              f"without Streamlit's frame switch (loads: {', '.join(f'{v:.3f}' for v in shift)})")


def slider_times(browser, url: str, model: str, moves: int, rng) -> tuple[list, list]:
    """(input event to the sliders' decoding drawn, ms, per move; a move to every traversal drawn, ms, for
    ten moves) on `model`'s Latent page, a random slider to a random value each move."""
    page = browser.new_page(viewport=VIEWPORT)
    page.add_init_script("window.__vaeSliderTimings = [];")
    open_app(page, f"{url}/latent?model={model}", PLANE)
    wait_for_decoder(page)
    wait_until_idle(page)
    sliders = page.locator(".vlp-dims .vlp-dim input")
    count = sliders.count()
    if not count:
        raise SystemExit(f"{model} shows no sliders: it needs more than two latent dimensions")
    sliders.first.scroll_into_view_if_needed()
    for dim, value in zip(rng.integers(0, count, moves), rng.uniform(-3, 3, moves)):
        sliders.nth(int(dim)).fill(f"{value:.2f}")
    settle(page)
    inputs = page.evaluate("() => window.__vaeSliderTimings.slice()")
    traversals = []
    for dim, value in zip(rng.integers(0, count, 10), rng.uniform(-3, 3, 10)):
        page.wait_for_timeout(300)
        started = time.perf_counter()
        sliders.nth(int(dim)).fill(f"{value:.2f}")
        wait_traversals(page, timeout=120)
        traversals.append(1e3 * (time.perf_counter() - started))
    return inputs, traversals


def print_sliders(inputs: list, traversals: list) -> None:
    print(f"sliders: {len(inputs)} moves, input event to decoding drawn p50 {percentile(inputs, 50):.1f} ms, "
          f"p95 {percentile(inputs, 95):.1f} ms; a move to all traversals drawn (after the 120 ms rest) median "
          f"{statistics.median(traversals):.0f} ms ({', '.join(f'{v:.0f}' for v in traversals)})")


DECODE_JS = """([layers, weights, latent]) => {
    const bytes = Uint8Array.from(atob(weights), (c) => c.charCodeAt(0));
    let started = performance.now();
    const decoder = new VaeDecoder(layers, vaeHalfToFloat(bytes), latent);
    const build = performance.now() - started, one = [], z = new Float32Array(latent);
    for (let k = 0; k < 600; k++) {
        for (let i = 0; i < latent; i++) z[i] = Math.random() * 6 - 3;
        started = performance.now(); decoder.decode(z, 1); one.push(performance.now() - started);
    }
    one.sort((a, b) => a - b);
    const grid = new Float32Array(400 * latent).map(() => Math.random() * 6 - 3);
    started = performance.now(); decoder.decode(grid, 400);
    return [build, one[300], one[570], performance.now() - started];
}"""


def decode_times(browser, pages: int) -> dict[str, list]:
    """{shipped model: [ms to build, one point p50, p95, a batch of 400], the median of `pages` blank pages}."""
    import base64

    import vae.web
    from vae import load_checkpoint
    from vae.webdecoder import web_decoder

    source = vae.web.bundle("decoder.js") + "\nwindow.VaeDecoder = VaeDecoder; window.vaeHalfToFloat = vaeHalfToFloat;"
    out = {}
    for path in sorted((ROOT / "checkpoints").glob("*.pt")):
        if "classifier" in path.stem:
            continue
        decoder = web_decoder(load_checkpoint(path)[0])
        runs = []
        for _ in range(pages):
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            page.add_script_tag(content=source)
            runs.append(page.evaluate(DECODE_JS, [decoder.layers, base64.b64encode(decoder.weights).decode(),
                                                  decoder.latent_dim]))
            page.close()
        out[path.stem] = [statistics.median(column) for column in zip(*runs)]
    return out


def print_decode(times: dict[str, list]) -> None:
    for name, (build, p50, p95, grid) in times.items():
        print(f"decode, {name}: built in {build:.0f} ms; one point p50 {p50:.2f} ms, p95 {p95:.2f} ms; "
              f"400 points {grid:.0f} ms (load {os.getloadavg()[0]:.1f})")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--pins", type=int, default=15)
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--only", choices=["payload", "hover", "layout", "sliders", "decode"],
                        help="measure only the bytes of loading /latent, the hover times, the layout, the sliders or the "
                             "decoder's forward pass")
    parser.add_argument("--model", help="the model's name in the menu (?model=) for --only hover or sliders")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch, AppServer(Path(scratch) / "runs", Path(scratch) / "log") as server, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        if args.only == "decode":
            print_decode(decode_times(browser, args.tabs))
            return
        if args.only == "payload":
            print_payload(payload(browser, server.url))
            return
        if args.only == "layout":
            print_layout(layout(browser, server.url))
            return
        if args.only == "sliders":
            print_sliders(*slider_times(browser, server.url, args.model or "mnist-16d", args.moves, rng))
            return
        if args.only == "hover":
            page = browser.new_page(viewport=VIEWPORT)
            page.add_init_script("window.__vaeHoverTimings = []; window.__vaeHoverQueued = [];")
            open_app(page, f"{server.url}/latent" + (f"?model={args.model}" if args.model else ""), PLANE)
            wait_for_decoder(page)
            wait_until_idle(page)
            page.wait_for_timeout(1000)
            print_hover(args.moves, *hover_both(page, rng, args.moves))
            return
        cold = page_times(browser.new_page(viewport=VIEWPORT), server.url)
        context = browser.new_context(viewport=VIEWPORT)
        page_times(context.new_page(), server.url)                 # fills the browser's cache
        warm = [page_times(context.new_page(), server.url) for _ in range(args.tabs)]
        page = browser.new_page(viewport=VIEWPORT)
        # the plane records hover timings only where a benchmark asks for them (vae/web: gestures.js, plane.js)
        page.add_init_script("window.__vaeHoverTimings = []; window.__vaeHoverQueued = [];")
        received = []                                  # (seconds, bytes) of each websocket frame from the server
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(
            (time.perf_counter(), len(payload) if isinstance(payload, (bytes, str)) else 0))))
        started = time.perf_counter()
        open_app(page, f"{server.url}/latent", PLANE)
        wait_for_decoder(page)
        wait_until_idle(page)
        page.wait_for_timeout(1000)
        first_load = sum(n for _, n in received)
        plane_seconds = time.perf_counter() - started

        hovers = hover_both(page, rng, args.moves)

        # pins: click, until Python shows the new point
        page.wait_for_timeout(500)
        pins, rerun_bytes = [], []
        for fx, fy in rng.uniform(0.1, 0.9, size=(args.pins, 2)):
            mark = len(received)
            pins.append(pin_round_trip(page, fx, fy) / 1e3)
            wait_until_idle(page)
            page.wait_for_timeout(300)
            rerun_bytes.append(sum(n for _, n in received[mark:]))
        sizes = layout(browser, server.url)
        loads = payload(browser, server.url)
        browser.close()

    print_hover(args.moves, *hovers)
    print_layout(sizes)
    ms = [1e3 * s for s in pins]
    print(f"pin round trip, {len(ms)} clicks: p50 {statistics.median(ms):.0f} ms, min {min(ms):.0f} ms, "
          f"max {max(ms):.0f} ms")
    print(f"payload: first load of /latent {first_load / 1e6:.2f} MB in {plane_seconds:.1f} s until "
          f"the decoder was ready; each pin rerun p50 {statistics.median(rerun_bytes) / 1e3:.1f} kB, "
          f"max {max(rerun_bytes) / 1e3:.1f} kB")
    print_payload(loads)
    print(f"page, fresh server: title {cold[0]:.2f} s, plane {cold[1]:.2f} s, decoder {cold[2]:.2f} s; "
          f"new tabs (median of {len(warm)}): title {statistics.median(t[0] for t in warm):.2f} s, "
          f"plane {statistics.median(t[1] for t in warm):.2f} s, decoder {statistics.median(t[2] for t in warm):.2f} s")


if __name__ == "__main__":
    main()

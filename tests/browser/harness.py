"""The machinery shared by the browser tests, the screenshots and the latency benchmark: a headless
Streamlit server on a free port with its own runs folder, Debian's Chromium through Playwright, and
the few moves a user makes on the dashboard (click the plane, upload, draw)."""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
EXCEPTION = '[data-testid="stException"]'
ERROR = '[data-testid="stAlertContentError"]'
MODEL_MENU = '.st-key-model_menu'              # the model menu and its caption, beside each page's title


def chromium_path() -> str | None:
    """$CHROMIUM, else Debian's chromium on the PATH or in /usr/bin."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`streamlit run streamlit_app.py` headless on 127.0.0.1:<free port>, runs under `runs_dir`, with `env`
    added to its environment. Stopping it also stops any training process it started."""

    def __init__(self, runs_dir: Path, log_path: Path, cwd: Path = ROOT, env: dict[str, str] | None = None):
        self.runs_dir, self.log_path, self.cwd = Path(runs_dir), Path(log_path), Path(cwd)
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "AppServer":
        env = {**os.environ, "VAE_RUNS_DIR": str(self.runs_dir), **self.env}
        env.pop("PYTHONPATH", None)            # the app must find its own code, wherever it is started
        env.setdefault("MALLOC_ARENA_MAX", "2")    # as `make run` starts it
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_training(self.runs_dir)
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_training(runs_dir: Path, grace: float = 15) -> None:
    """SIGTERM every training process still running under runs_dir; SIGKILL it after `grace` seconds."""
    from vae import lifecycle

    pids = []
    for run_dir, status in lifecycle.list_runs(runs_dir):
        if status.get("state") == "running" and lifecycle.stop_run(run_dir):
            pids.append(status["pid"])
    deadline = time.time() + grace
    while any(lifecycle.pid_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if lifecycle.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def open_app(page, url: str, ready: str, timeout: float = 60_000) -> None:
    """Go to url and wait until the selector `ready` is on the page and the script run has ended."""
    page.goto(url)
    page.locator(ready).first.wait_for(state="attached", timeout=timeout)
    wait_until_idle(page, timeout)


def wait_until_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit says no script run is going (it marks its root element)."""
    page.locator('[data-test-script-state="notRunning"]').first.wait_for(state="attached", timeout=timeout)


# The latent plane -------------------------------------------------------------------------------

PLANE = ".vlp-planewrap"                       # the plane's canvases (inside the component's shadow root)
PREVIEW = ".vlp-preview"                       # the 28×28 canvas decoded in the browser
PINNED = '[data-testid="stMarkdownContainer"]'


def wait_for_decoder(page, timeout: float = 60_000) -> None:
    """Wait until the browser holds the decoder (it arrives once per tab)."""
    page.wait_for_function("""() => window.__vaeLatentCache &&
        [...window.__vaeLatentCache.blobs.keys()].some((key) => key.startsWith('decoder-'))""", timeout=timeout)


def wait_for_test_images(page, timeout: float = 60_000) -> None:
    """Wait until the browser holds every test image of the plane's dataset (they arrive in files)."""
    page.wait_for_function("() => [...window.__vaeLatentCache.blobs.keys()].some((key) => key.includes('-test-'))",
                           timeout=timeout)


class NetworkLog:
    """What `page` receives from now on, in Chrome's own count (CDP Network events): the files whose URL
    holds `prefix` (the plane's, app_pages/plane) and the websocket's bytes. A file taken from the
    browser's cache counts 0 bytes over the network."""

    def __init__(self, context, page, prefix: str = "/app/static/"):
        self.files: dict[str, dict] = {}               # request id -> {url, cached, bytes}
        self.websocket = 0
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.on("Network.responseReceived", lambda event: self._response(event, prefix))
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.webSocketFrameReceived", self._frame)

    def _response(self, event, prefix: str) -> None:
        response = event["response"]
        if prefix in response["url"]:
            cached = bool(response.get("fromDiskCache") or response.get("fromMemoryCache"))
            self.files[event["requestId"]] = {"url": response["url"], "cached": cached, "bytes": 0}

    def _finished(self, event) -> None:
        if event["requestId"] in self.files:
            self.files[event["requestId"]]["bytes"] = event["encodedDataLength"]

    def _frame(self, event) -> None:
        data = event["response"]["payloadData"]      # binary frames (Streamlit's protobuf) come base64-encoded
        self.websocket += len(base64.b64decode(data)) if event["response"]["opcode"] == 2 else len(data.encode())

    @property
    def file_bytes(self) -> int:
        return sum(f["bytes"] for f in self.files.values())

    def close(self) -> None:
        self.cdp.detach()


def open_plane(page, url: str, path: str = "/latent") -> None:
    """Open the Latent page (or `path`, query included) and wait until the browser decodes."""
    open_app(page, url + path, PLANE)
    wait_for_decoder(page)
    wait_until_idle(page)


def open_phone_plane(chromium, url: str):
    """A phone (414×896, touch) on the Latent page, the plane scrolled into view: (context, page)."""
    context = chromium.new_context(viewport={"width": 414, "height": 896}, has_touch=True, is_mobile=True,
                                   device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_plane(page, url)
    page.locator(PLANE).first.scroll_into_view_if_needed()
    wait_until_idle(page)
    return context, page


def plane_box(page) -> dict:
    layer = page.locator(PLANE).first
    layer.wait_for(timeout=60_000)
    return layer.bounding_box()


def plane_view(page) -> tuple[float, float, float, float]:
    """The visible square (x0, x1, y0, y1) in latent units, as the component reports it."""
    return tuple(float(v) for v in page.locator(".vlp-plane").first.get_attribute("data-view").split(","))


def latent_at(page, fx: float, fy: float) -> tuple[float, float]:
    """The latent point under fractions (fx, fy) of the plane (fy from the top), from the view."""
    x0, x1, y0, y1 = plane_view(page)
    return x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)


def page_point(page, fx: float, fy: float) -> tuple[float, float]:
    box = plane_box(page)
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def preview(page) -> tuple[tuple[float, float] | None, np.ndarray]:
    """(the latent point the preview shows, its 28×28 grey pixels in [0, 1])."""
    shown = page.locator(PREVIEW).first.evaluate("""(canvas) => ({z: canvas.dataset.z || null,
        px: Array.from(canvas.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)})""")
    z = tuple(float(v) for v in shown["z"].split(",")) if shown["z"] else None
    return z, np.asarray(shown["px"], dtype=np.float32).reshape(28, 28) / 255


def wait_traversals(page, timeout: float = 60.0) -> None:
    """Until the sliders (vae/web/sliders.js) have drawn every traversal row for their current point."""
    page.wait_for_function("(box) => box.dataset.traversed && box.dataset.traversed.endsWith(':' + box.dataset.z)",
                           arg=page.locator(".vlp-dims").first.element_handle(), timeout=timeout * 1e3)


def settle(page) -> None:
    """Wait two animation frames: the plane decodes the pointer's latest position at the next one."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def zoom_wheel(page, delta_y: float) -> None:
    """Ctrl + wheel at the pointer: the plane zooms (the wheel alone scrolls the page)."""
    page.keyboard.down("Control")
    page.mouse.wheel(0, delta_y)
    page.keyboard.up("Control")


def hover_plane(page, fx: float, fy: float):
    """Move the pointer to fractions (fx, fy) of the plane: (the point under it, what the preview shows)."""
    page.mouse.move(*page_point(page, fx, fy), steps=4)
    settle(page)
    return latent_at(page, fx, fy), preview(page)


def pinned_point(page) -> tuple[float, float] | None:
    """The pinned point as the page's Python side shows it ("z0 = 1.234, z1 = -0.500"; in Chinese with "，")."""
    text = page.locator(PINNED, has_text=re.compile(r" = .*[,，]")).first.inner_text()
    numbers = re.findall(r"= (-?[0-9.]+)", text)
    return (float(numbers[0]), float(numbers[1])) if len(numbers) == 2 else None


def pin_plane(page, fx: float, fy: float, *, tap: bool = False, timeout: float = 20_000) -> float:
    """Click (or tap) at fractions (fx, fy) of the plane and wait until Python shows the new pinned
    point and the page is idle: seconds from the click until then."""
    before = pinned_point(page)
    x, y = page_point(page, fx, fy)
    if not tap:
        page.mouse.move(x, y, steps=3)
    started = time.perf_counter()
    page.touchscreen.tap(x, y) if tap else page.mouse.click(x, y)
    deadline = time.time() + timeout / 1e3
    while pinned_point(page) == before and time.time() < deadline:
        page.wait_for_timeout(10)
    wait_until_idle(page)
    return time.perf_counter() - started


SETTLE_JS = """() => { window.__vaeSettled = new Promise((resolve) => {
    // Click at page point (x, y) is done by the caller; here: from the pointerup to the moment the
    // pinned point's text has changed and Streamlit says no script run is going.
    const text = () => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .map((e) => e.innerText).find((t) => / = .*,.* = /.test(t));
    const before = text();
    let clicked = null;
    window.addEventListener('pointerup', () => { clicked = performance.now(); }, { capture: true, once: true });
    const check = () => {
        const idle = document.querySelector('[data-test-script-state="notRunning"]');
        if (clicked !== null && text() !== before && idle) resolve(performance.now() - clicked);
        else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
}); }"""


def pin_round_trip(page, fx: float, fy: float) -> float:
    """Milliseconds, measured inside the page, from the click's pointerup until Python's pinned point
    is shown and no script run is going."""
    x, y = page_point(page, fx, fy)
    page.mouse.move(x, y, steps=3)
    page.evaluate(SETTLE_JS)
    page.mouse.click(x, y)
    return float(page.evaluate("() => window.__vaeSettled"))


def darkest_near(page, x: float, y: float, radius: int = 5) -> int:
    """The darkest grey level in a small square of the screen around (x, y): the pin's ring is black."""
    shot = page.screenshot(clip={"x": x - radius, "y": y - radius, "width": 2 * radius, "height": 2 * radius})
    return int(np.asarray(Image.open(io.BytesIO(shot)).convert("L")).min())


# Uploads and drawing ----------------------------------------------------------------------------

def photo_of_digit(digit: np.ndarray, fmt: str, *, seed: int = 0) -> bytes:
    """A photo-like picture of an MNIST digit: dark ink on light, unevenly lit, grainy paper,
    off-centre on a 420×360 page, in colour."""
    rng = np.random.default_rng(seed)
    ink = np.kron(digit.astype(np.float32) / 255, np.ones((9, 9), np.float32))      # 252×252
    page = np.linspace(215, 245, 420, dtype=np.float32)[None, :].repeat(360, 0)
    page += rng.normal(0, 3, page.shape)
    page[70:322, 150:402] -= ink * 180
    rgb = np.stack([page, page * 0.97, page * 0.9], -1)
    buffer = io.BytesIO()
    Image.fromarray(np.uint8(np.clip(rgb, 0, 255))).save(buffer, fmt)
    return buffer.getvalue()


def upload(page, name: str, data: bytes, mime: str) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])


def draw_stroke(page, canvas, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points` (fractions of the canvas) with the button down."""
    box = canvas.bounding_box()
    to_page = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*to_page[0])
    page.mouse.down()
    for point in to_page[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


# The train page ---------------------------------------------------------------------------------

def start_training(page, **numbers) -> None:
    """Fill the training form's number fields by their labels (e.g. Epochs=2) and press Start."""
    for label, value in numbers.items():
        page.get_by_role("spinbutton", name=label, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()


def loss_points(page) -> int:
    """How many training-loss points the live chart currently draws (0 before it exists)."""
    return page.evaluate("""() => { const plot = document.querySelector('.js-plotly-plot');
        return plot && plot._fullData ? plot._fullData[0]._length : 0; }""")


def run_heading(page) -> str:
    """The 'Run <name>: <state>' heading of the run shown on the train page."""
    heading = page.locator("h3", has_text="Run ").first
    heading.wait_for(timeout=60_000)
    return heading.inner_text().strip()

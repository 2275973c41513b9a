"""A class on one server (issue "Reach", its Load section): N students exploring the Latent page at once
while the owner trains, all on one Streamlit server, and what that costs the server.

The bench starts the dashboard itself (`streamlit run streamlit_app.py` headless on 127.0.0.1 and a free
port, MALLOC_ARENA_MAX=2 as `make run` sets, a runs folder of its own), with VAE_LOOPBACK_IS_REMOTE=1 and
an owner's token, so the students, who arrive from 127.0.0.1 as everything here does, are viewers and the
owner is whoever typed the token. Nothing leaves 127.0.0.0/8: the browser's requests elsewhere are counted
(and must be 0).

1. The server's memory (RSS of the streamlit process and its children, the training process excepted,
   from /proc) before any session.
2. N students, one after the other, each in a browser context of its own (a cold cache): the first load of
   /latent until the decoder is ready and the test images are in, then a reload in the same context (a
   warm cache). Bytes as Chrome counts them (CDP Network events, bench/browser_plane.py's load_bytes):
   everything the server sent (the page, Streamlit's own scripts, the websocket, the plane's files) and,
   of that, the websocket and the plane's files. RSS once all are loaded.
3. The owner opens the Train page in a context of its own, types the token and starts the default model
   with --epochs (enough to outlast the bench); the bench waits until the run is training.
4. For --seconds, every student hovers over the plane and pins points: a few pointer moves, a click, and
   while that pin's round trip is going more moves, then the next click. Playwright's synchronous API
   drives the pages in turn, so the students act one after the other, but their pins overlap on the
   server. A pin's round trip is measured inside the page as bench/browser_plane.py does (harness's
   SETTLE_JS): from the click's pointerup until the page shows Python's new "Pinned point" line and no
   script run is going; one that has not come back after 20 s is a failed pin. Each is split, on the page's
   clock, at its websocket messages: the click until the request is sent, the request until the last message
   of the run it started has been received (the server's part, and the renderer's delay in taking the
   message), and that until the pin is shown.
5. RSS at the end (and its peak in each phase, sampled every 0.5 s), the CPU each part took while pinning
   (the server, the training process, the bench's own Chromium and Playwright, the rest of the machine) and
   the load average at the start, when the pins begin and at the end. The browsers run on the same cores as
   the server: on a small machine much of a pin's time is waiting for a core, which the CPU shares show.
   (Making the browsers nicer than the server does not isolate the server: the page's own part of each
   round trip, and the moment it takes the server's message, slow down instead.)

Printed: one JSON line, then a table. With --runs K the bench runs K times, each on a fresh server, each
after waiting (at most --wait seconds) for the 1-minute load average to fall below --max-load, and prints
each run's JSON line, then the median of each figure.

    .venv/bin/python bench/classroom.py [--sessions 10] [--seconds 60] [--runs 1] [--max-load 3]
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))   # the browser harness, a test helper (vae is installed)
sys.path.insert(1, str(ROOT))                          # app_pages.roles: the settings' names

import numpy as np  # noqa: E402
from browser_plane import load_bytes, percentile  # noqa: E402
from harness import (EXCEPTION, SETTLE_JS, VIEWPORT, AppServer, NetworkLog, launch_chromium,  # noqa: E402
                     open_app, plane_box, start_training, stop_training, wait_until_idle)

from app_pages import roles  # noqa: E402
from vae import lifecycle  # noqa: E402

VIEWER_LINE = "You are connected from another machine"
PIN_TIMEOUT = 20.0               # s: a pin not back by then has failed
HOVER_MOVES = 4                  # pointer moves between a student's turns
SETTLED = "() => Promise.race([window.__vaeSettled, Promise.resolve(null)])"    # the pin's time, or null while going
# Where a pin's time goes, on the page's clock: each pointerup, and each websocket message sent or received
# (Streamlit opens its websocket after this runs, through the wrapped constructor).
WIRE_JS = """(() => {
    window.__vaeWire = []; window.__vaeUp = null;
    window.addEventListener('pointerup', () => { window.__vaeUp = performance.now(); }, { capture: true });
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', () => window.__vaeWire.push([performance.now(), 1]));
        }
        send(data) { window.__vaeWire.push([performance.now(), 0]); return super.send(data); }
    };
})();"""
# A pin just back (it took `took` ms from its pointerup): [click to the request sent, request to the server's
# last message of that run, that message to the pinned point shown]; the log is emptied up to then.
SPLIT_JS = """(took) => {
    const up = window.__vaeUp, end = up + took, wire = window.__vaeWire;
    const sent = wire.find(([t, dir]) => dir === 0 && t >= up);
    const received = wire.filter(([t, dir]) => dir === 1 && t >= up && t <= end + 1);
    window.__vaeWire = wire.filter(([t]) => t > end + 1);
    if (!sent || !received.length) return null;
    const last = received[received.length - 1][0];
    return [sent[0] - up, last - sent[0], end - last];
}"""
CLK_TCK = os.sysconf("SC_CLK_TCK")
STREAMLIT_PROBE = re.compile(r"404 /[a-z_]+/_stcore/(health|host-config)")
# The targets. A first load's 5 MB is "app files excluded": Streamlit's own scripts and fonts (3.4 MB,
# the same for any app) are not counted, the app's websocket and the plane's files are (cold_app_mb).
TARGETS = {"pin_p95_ms": 300, "rss_end_mb": 1500, "cold_app_mb": 5.0, "warm_mb": 0.3}


# The server's processes, from /proc ---------------------------------------------------------------

def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[int(entry.name)] = (int(stat[stat.rindex(")") + 2:].split()[1]), cmdline)
    return out


def _tree(root: int, table: dict) -> set[int]:
    """root and its descendants."""
    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier.extend(children)
    return found


def groups(server_pid: int) -> dict[str, set[int]]:
    """{"server": the streamlit process and its children less the training run, "training": the training
    process and its children, "bench": this process, Playwright and Chromium}."""
    table = _processes()
    server = _tree(server_pid, table)
    training = set()
    for pid in server:
        if " -m vae train " in f" {table[pid][1]} ":
            training |= _tree(pid, table)
    return {"server": server - training, "training": training, "bench": _tree(os.getpid(), table) - server}


def _field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pids) -> float:
    return sum(_field(pid, "VmRSS") for pid in pids) / 1024


def cpu_seconds(pids) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK          # utime + stime
    return out


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK              # less idle and iowait


class Sampler(threading.Thread):
    """The server's RSS every 0.5 s, for its peak in each phase of the bench (`phase`, set as it goes)."""

    def __init__(self, server_pid: int):
        super().__init__(daemon=True)
        self.server_pid, self.done = server_pid, threading.Event()
        self.phase, self.peaks = "start", {}

    def run(self) -> None:
        while not self.done.wait(0.5):
            phase = self.phase
            self.peaks[phase] = max(self.peaks.get(phase, 0.0), rss_mb(groups(self.server_pid)["server"]))


# Sessions ----------------------------------------------------------------------------------------

def outside(url: str) -> bool:
    """Whether a request goes over the network to somewhere other than 127.0.0.0/8."""
    parts = urlparse(url)
    return parts.scheme in ("http", "https", "ws", "wss") and not (parts.hostname or "").startswith("127.")


class Session:
    """A browser context of its own and one tab in it; its errors and requests leaving 127.0.0.0/8."""

    def __init__(self, browser, name: str):
        self.name = name
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.set_default_timeout(120_000)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.refused: list[str] = []             # HTTP answers >= 400 (Chromium logs each as a console error too)
        self.page.on("pageerror", lambda error: self.errors.append(f"{self.name}: page error: {error}"))
        self.page.on("console", self._console)
        self.page.on("response", lambda response: response.status >= 400 and self.refused.append(
            f"{response.status} {urlparse(response.url).path}"))
        self.page.on("request", lambda request: outside(request.url) and self.outside.append(request.url))
        self.page.add_init_script(WIRE_JS)

    def _console(self, message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource:"):
            self.errors.append(f"{self.name}: console error: {message.text}")

    def probes(self) -> list[str]:
        """Streamlit's own 404s: on a page's first load its frontend asks <page>/_stcore/health and
        <page>/_stcore/host-config before the server's root (looking for the base URL), which the server
        refuses; the app cannot change that."""
        return [r for r in self.refused if STREAMLIT_PROBE.fullmatch(r)]

    def all_errors(self) -> list[str]:
        refused = [f"{self.name}: HTTP {r}" for r in self.refused if not STREAMLIT_PROBE.fullmatch(r)]
        shown = [f"{self.name}: exception shown: {text[:300]}" for text in self.page.locator(EXCEPTION).all_inner_texts()]
        return self.errors + refused + shown

    def close(self) -> None:
        self.context.close()


class Student(Session):
    def load(self, url: str) -> None:
        """The first load of /latent (cold cache), then a reload in the same context (warm): bytes of each."""
        self.loads = {}
        for name, target in (("cold", f"{url}/latent"), ("warm", None)):
            everything = NetworkLog(self.context, self.page, prefix=url)      # every response from the server
            counted = load_bytes(self.context, self.page, target)
            everything.close()
            self.loads[name] = {"total": everything.file_bytes + everything.websocket, "ws": counted["ws"],
                                "plane_files": counted["http"], "files": len(everything.files),
                                "decoder_s": counted["decoder"]}
        self.box = plane_box(self.page)
        self.pins: list[float] = []
        self.splits: list[list[float]] = []
        self.failed = 0
        self.pending: float | None = None

    def point(self, fx: float, fy: float) -> tuple[float, float]:
        return self.box["x"] + fx * self.box["width"], self.box["y"] + fy * self.box["height"]

    def turn(self, rng) -> None:
        """A few pointer moves over the plane; the last pin's time if it is back; a new pin if none is going."""
        for fx, fy in rng.uniform(0.05, 0.95, size=(HOVER_MOVES, 2)):
            self.page.mouse.move(*self.point(fx, fy), steps=2)
        if self.pending is not None:
            self.collect()
        if self.pending is None:
            x, y = self.point(*rng.uniform(0.1, 0.9, size=2))
            self.page.mouse.move(x, y, steps=2)
            self.page.evaluate(SETTLE_JS)
            self.page.mouse.click(x, y)
            self.pending = time.monotonic()

    def collect(self) -> None:
        took = self.page.evaluate(SETTLED)
        if took is not None:
            self.pins.append(float(took))
            split = self.page.evaluate(SPLIT_JS, took)
            if split is not None:
                self.splits.append(split)
            self.pending = None
        elif time.monotonic() - self.pending > PIN_TIMEOUT:
            self.failed += 1
            self.errors.append(f"{self.name}: a pin did not come back within {PIN_TIMEOUT:.0f} s")
            self.pending = None


def owner_starts_training(owner: Session, url: str, token: str, runs_dir: Path, epochs: int) -> dict:
    """The owner types the token on the Train page and starts the default model; returns once it trains."""
    page = owner.page
    open_app(page, f"{url}/train", f"text={VIEWER_LINE}")
    field = page.get_by_role("textbox", name="Owner's token")
    field.fill(token)
    field.press("Enter")
    page.get_by_role("button", name="Start training").wait_for()
    wait_until_idle(page)
    start_training(page, Epochs=epochs)
    deadline = time.time() + 180
    while time.time() < deadline:
        for _run_dir, status in lifecycle.list_runs(runs_dir):
            if status.get("state") == "running" and status.get("phase") == "training" and status.get("step", 0) > 0:
                return status
        time.sleep(0.5)
    raise RuntimeError("the owner's run did not start training within 180 s")


def owner_stops_training(owner: Session, runs_dir: Path) -> bool:
    """The owner presses Stop; True when the run has stopped within 60 s (else the server's stop kills it)."""
    try:
        owner.page.get_by_role("button", name="Stop training").click(timeout=30_000)
    except Exception as exc:                            # noqa: BLE001 (reported, and the run is stopped below)
        owner.errors.append(f"owner: Stop training could not be pressed: {exc}")
        return False
    deadline = time.time() + 60
    while time.time() < deadline:
        if lifecycle.active_run(runs_dir) is None:
            return True
        time.sleep(0.5)
    return False


# One measurement ---------------------------------------------------------------------------------

def measure(sessions: int, seconds: float, epochs: int, seed: int) -> dict:
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(seed)
    token = secrets.token_urlsafe(24)
    env = {roles.LOOPBACK_IS_REMOTE_ENV: "1", roles.TOKEN_ENV: token, "MALLOC_ARENA_MAX": "2"}
    result = {"utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
              "sessions": sessions, "seconds": seconds,
              "load_start": round(os.getloadavg()[0], 2)}
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="classroom-"))
        server = stack.enter_context(AppServer(Path(scratch) / "runs", Path(scratch) / "streamlit.log", env=env))
        playwright = stack.enter_context(sync_playwright())
        runs_dir = server.runs_dir
        assert urlparse(server.url).hostname == "127.0.0.1"
        time.sleep(2)
        result["rss_before_mb"] = rss_mb(groups(server.process.pid)["server"])
        sampler = Sampler(server.process.pid)
        sampler.start()
        browser = launch_chromium(playwright)
        students = [Student(browser, f"student {i + 1}") for i in range(sessions)]
        owner = Session(browser, "owner")
        say(f"server {server.process.pid} at {server.url}: loading {sessions} students")
        sampler.phase = "loading"
        started = time.perf_counter()
        for student in students:
            student.load(server.url)
            if student is students[0]:
                time.sleep(2)
                result["rss_first_mb"] = rss_mb(groups(server.process.pid)["server"])
        result["load_seconds"] = time.perf_counter() - started
        time.sleep(2)
        result["rss_loaded_mb"] = rss_mb(groups(server.process.pid)["server"])
        sampler.phase = "owner starts training"
        status = owner_starts_training(owner, server.url, token, runs_dir, epochs)
        result["training_pid"] = status.get("pid")
        result["rss_training_mb"] = rss_mb(groups(server.process.pid)["server"])

        say(f"server {server.process.pid}: {sessions} students loaded, the owner's run {status.get('pid')} training; "
            f"pinning for {seconds:.0f} s")
        result["load_activity_start"] = round(os.getloadavg()[0], 2)
        sampler.phase = "pinning"
        parts = groups(server.process.pid)
        cpu_before = {name: cpu_seconds(pids) for name, pids in parts.items()}
        busy_before, wall_before = machine_busy(), time.monotonic()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for student in students:
                student.turn(rng)
        wind_down = time.monotonic() + PIN_TIMEOUT
        while any(s.pending is not None for s in students) and time.monotonic() < wind_down + 1:
            for student in (s for s in students if s.pending is not None):
                student.collect()
            time.sleep(0.05)
        wall = time.monotonic() - wall_before
        parts = groups(server.process.pid)
        cpu_after = {name: cpu_seconds(pids) for name, pids in parts.items()}
        busy = machine_busy() - busy_before
        result["rss_end_mb"] = rss_mb(parts["server"])
        result["load_end"] = round(os.getloadavg()[0], 2)
        result["activity_seconds"] = wall
        cores = {name: sum(cpu_after[name].get(pid, 0) - cpu_before[name].get(pid, 0) for pid in cpu_after[name]) / wall
                 for name in cpu_after}
        cores["other"] = max(0.0, busy / wall - sum(cores.values()))
        result["cores_used"] = cores
        training_alive = lifecycle.active_run(runs_dir) is not None
        result["training_ran_throughout"] = training_alive
        sampler.phase = "owner stops training"
        result["training_stopped_by_owner"] = owner_stops_training(owner, runs_dir)
        time.sleep(2)
        sampler.done.set()
        sampler.join()
        result["rss_peak_mb"] = max(sampler.peaks.values())
        result["rss_peak_by_phase_mb"] = sampler.peaks

        errors = [e for s in [*students, owner] for e in s.all_errors()]
        result["streamlit_probe_404s"] = sum(len(s.probes()) for s in [*students, owner])
        pins = [ms for s in students for ms in s.pins]
        result["pins"] = len(pins)
        result["pins_per_session_per_minute"] = len(pins) / sessions / (seconds / 60)
        result["failed_pins"] = sum(s.failed for s in students)
        result["pin_p50_ms"] = percentile(pins, 50) if pins else None
        result["pin_p95_ms"] = percentile(pins, 95) if pins else None
        result["pin_max_ms"] = max(pins) if pins else None
        splits = np.asarray([split for s in students for split in s.splits]).reshape(-1, 3)
        for column, part in enumerate(("browser_out", "server", "browser_in")):
            for q in (50, 95):
                result[f"pin_{part}_p{q}_ms"] = percentile(splits[:, column], q) if len(splits) else None
        for name in ("cold", "warm"):
            loads = [s.loads[name] for s in students]
            result[f"{name}_mb"] = statistics.median(n["total"] for n in loads) / 1e6
            result[f"{name}_ws_mb"] = statistics.median(n["ws"] for n in loads) / 1e6
            result[f"{name}_plane_files_mb"] = statistics.median(n["plane_files"] for n in loads) / 1e6
            result[f"{name}_app_mb"] = statistics.median(n["ws"] + n["plane_files"] for n in loads) / 1e6
            result[f"{name}_decoder_s"] = statistics.median(n["decoder_s"] for n in loads)
        result["outside_requests"] = sum(len(s.outside) for s in [*students, owner])
        result["errors"] = len(errors)
        result["error_lines"] = errors[:20]
        for session in [*students, owner]:
            session.close()
        browser.close()
        stop_training(runs_dir)
    result["rss_per_session_mb"] = (result["rss_loaded_mb"] - result["rss_before_mb"]) / sessions
    result["rss_50_mb"] = result["rss_before_mb"] + 50 * result["rss_per_session_mb"]
    # the first session loads torch, the model and the caches every later one shares
    result["rss_per_extra_session_mb"] = (result["rss_loaded_mb"] - result["rss_first_mb"]) / max(1, sessions - 1)
    result["rss_50_marginal_mb"] = result["rss_first_mb"] + 49 * result["rss_per_extra_session_mb"]
    return result


FIGURES = [  # (key, label, unit, format)
    ("rss_before_mb", "server RSS before sessions", "MB", "{:.0f}"),
    ("rss_first_mb", "server RSS, first session loaded", "MB", "{:.0f}"),
    ("rss_loaded_mb", "server RSS, all sessions loaded", "MB", "{:.0f}"),
    ("rss_training_mb", "server RSS, owner training too", "MB", "{:.0f}"),
    ("rss_end_mb", "server RSS at the end", "MB", "{:.0f}"),
    ("rss_peak_mb", "server RSS peak", "MB", "{:.0f}"),
    ("rss_per_session_mb", "RSS per session, (loaded - before) / N", "MB", "{:.1f}"),
    ("rss_50_mb", "RSS for 50 students, before + 50 x per session", "MB", "{:.0f}"),
    ("rss_per_extra_session_mb", "RSS per session after the first, (loaded - first) / (N - 1)", "MB", "{:.1f}"),
    ("rss_50_marginal_mb", "RSS for 50 students, first + 49 x per later session", "MB", "{:.0f}"),
    ("pin_p50_ms", "pin round trip p50", "ms", "{:.0f}"),
    ("pin_p95_ms", "pin round trip p95", "ms", "{:.0f}"),
    ("pin_max_ms", "pin round trip max", "ms", "{:.0f}"),
    ("pin_browser_out_p50_ms", "  click to request sent, p50", "ms", "{:.0f}"),
    ("pin_browser_out_p95_ms", "  click to request sent, p95", "ms", "{:.0f}"),
    ("pin_server_p50_ms", "  request to the run's last message, p50", "ms", "{:.0f}"),
    ("pin_server_p95_ms", "  request to the run's last message, p95", "ms", "{:.0f}"),
    ("pin_browser_in_p50_ms", "  last message to pin shown, p50", "ms", "{:.0f}"),
    ("pin_browser_in_p95_ms", "  last message to pin shown, p95", "ms", "{:.0f}"),
    ("pins", "pins", "", "{:.0f}"),
    ("pins_per_session_per_minute", "pins per session per minute", "", "{:.1f}"),
    ("cold_mb", "first load, cold cache (all bytes)", "MB", "{:.2f}"),
    ("cold_ws_mb", "  of which the websocket", "MB", "{:.2f}"),
    ("cold_plane_files_mb", "  of which the plane's files", "MB", "{:.2f}"),
    ("cold_app_mb", "  the app's: websocket and plane's files", "MB", "{:.2f}"),
    ("warm_mb", "reload, warm cache (all bytes)", "MB", "{:.2f}"),
    ("warm_ws_mb", "  of which the websocket", "MB", "{:.2f}"),
    ("cold_decoder_s", "decoder ready after, cold", "s", "{:.1f}"),
    ("warm_decoder_s", "decoder ready after, warm", "s", "{:.1f}"),
    ("errors", "errors (page, console, failed pins, shown)", "", "{:.0f}"),
    ("failed_pins", "failed pins", "", "{:.0f}"),
    ("streamlit_probe_404s", "Streamlit's own base-URL probes (404, not counted)", "", "{:.0f}"),
    ("outside_requests", "requests outside 127.0.0.0/8", "", "{:.0f}"),
    ("load_start", "load average (1 min) at the start", "", "{:.2f}"),
    ("load_activity_start", "load average when the pins began", "", "{:.2f}"),
    ("load_end", "load average at the end", "", "{:.2f}"),
]


def table(results: list[dict], median: dict | None) -> str:
    head = ["figure", *[f"run {i + 1}" for i in range(len(results))], *(["median"] if median else [])]
    rows = [head]
    for key, label, unit, fmt in FIGURES:
        cells = [fmt.format(r[key]) if r.get(key) is not None else "-" for r in results]
        if median:
            cells.append(fmt.format(median[key]) if median.get(key) is not None else "-")
        rows.append([f"{label}{f' ({unit})' if unit else ''}", *cells])
    for part in ("server", "training", "bench", "other"):
        cells = [f"{r['cores_used'][part]:.2f}" for r in results]
        if median:
            cells.append(f"{median['cores_used'][part]:.2f}")
        rows.append([f"cores used while pinning: {part}", *cells])
    rows.append(["UTC", *[r["utc"] for r in results], *([""] if median else [])])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                     for row in rows)


def median_of(results: list[dict]) -> dict:
    out = {}
    for key, *_ in FIGURES:
        values = [r[key] for r in results if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    out["cores_used"] = {part: statistics.median(r["cores_used"][part] for r in results)
                         for part in ("server", "training", "bench", "other")}
    return out


def say(line: str) -> None:
    print(f"{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S} {line}", file=sys.stderr, flush=True)


def wait_for_quiet(max_load: float, wait: float) -> None:
    deadline = time.time() + wait
    while os.getloadavg()[0] >= max_load and time.time() < deadline:
        say(f"load average {os.getloadavg()[0]:.2f} >= {max_load}: waiting")
        time.sleep(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10, help="students (default 10)")
    parser.add_argument("--seconds", type=float, default=60, help="how long they hover and pin (default 60)")
    parser.add_argument("--epochs", type=int, default=100, help="the owner's run (stopped at the end)")
    parser.add_argument("--runs", type=int, default=1, help="measure this many times, each on a fresh server")
    parser.add_argument("--max-load", type=float, default=3.0, help="wait before each run until the load is below")
    parser.add_argument("--wait", type=float, default=1200, help="at most this many seconds of waiting per run")
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        wait_for_quiet(args.max_load, args.wait)
        result = measure(args.sessions, args.seconds, args.epochs, seed=run)
        results.append(result)
        print(json.dumps({"run": run + 1, **result}), flush=True)
        for line in result["error_lines"]:
            print(f"  {line}", file=sys.stderr)
    median = median_of(results) if len(results) > 1 else None
    if median:
        print(json.dumps({"median": median}))
    print(table(results, median))
    failed = [k for k, limit in TARGETS.items() if (median or results[0]).get(k) is not None
              and (median or results[0])[k] > limit]
    print(f"targets {TARGETS}: " + ("all met" if not failed else f"missed: {', '.join(failed)}")
          + f"; errors {sum(r['errors'] for r in results)}")


if __name__ == "__main__":
    main()

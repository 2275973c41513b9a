"""Which of Streamlit's two ways to serve a file lets Chromium keep it: the app's static folder
(`server.enableStaticServing`, /app/static/...) or a v2 component's asset folder
(/_stcore/bidi-components/<name>/...). The measurement that chose the plane's files' route (app_pages/plane).

Both routes are Streamlit's own handlers (create_app_static_serving_routes, create_bidi_component_routes),
mounted on one uvicorn server; each serves a 3 MB file twice, once with its modification time now and
once with a fixed old one (2000-01-01, vae.blobs.FIXED_TIME). For each, a page of a fresh browser
fetches it, then a second tab, then a reload of that tab; Chrome's own count (CDP) says how many bytes
came over the network and whether the disk cache answered.

    .venv/bin/python bench/file_routes.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]   # this checkout's vae, and the browser harness

from harness import NetworkLog, free_port, launch_chromium  # noqa: E402

from vae.blobs import FIXED_TIME  # noqa: E402

SIZE = 3_000_000
ROUTES = {"app static folder": "/app/static/", "component asset folder": "/_stcore/bidi-components/plane/"}


class OneComponent:
    """The part of Streamlit's component manager the asset route asks: one component, its asset folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    def get(self, name):
        return object()

    def get_component_path(self, name):
        return str(self.folder)


def serve(root: Path) -> tuple[object, int]:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route
    from streamlit.web.server.starlette.starlette_routes import (create_app_static_serving_routes,
                                                                 create_bidi_component_routes)

    async def page(request):
        return HTMLResponse("<!doctype html><title>page</title>")

    routes = (create_app_static_serving_routes(str(root / "main.py"), None)
              + create_bidi_component_routes(OneComponent(root / "static"), None) + [Route("/page", page)])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, port


def fetch(context, page, base: str, url: str, reload: bool = False) -> str:
    """Open the server's page in `page` (reload it), fetch `url` from it: the bytes over the network."""
    log = NetworkLog(context, page, prefix=".gz")
    page.reload() if reload else page.goto(base + "/page")
    page.evaluate("(url) => fetch(url).then((r) => r.arrayBuffer()).then((b) => b.byteLength)", url)
    page.wait_for_timeout(300)
    log.close()
    (file,) = log.files.values()
    return f"{file['bytes'] / 1e6:.2f} MB" + (" (disk cache)" if file["cached"] else "")


def main() -> None:
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp())
    (root / "static").mkdir()
    data = os.urandom(SIZE)
    for name in ("now.gz", "fixed.gz"):
        (root / "static" / name).write_bytes(data)
    os.utime(root / "static" / "fixed.gz", (FIXED_TIME, FIXED_TIME))
    server, port = serve(root)
    base = f"http://127.0.0.1:{port}"
    for route, path in ROUTES.items():
        with urllib.request.urlopen(base + path + "now.gz") as answer:
            headers = {k: v for k, v in answer.headers.items() if k.lower() in ("cache-control", "etag", "last-modified")}
        print(f"{route} ({path}): {headers or 'no caching headers'}")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for route, path in ROUTES.items():
            for name, what in (("now.gz", "modified now"), ("fixed.gz", "dated 2000-01-01")):
                context = browser.new_context()
                url = base + path + name
                first = fetch(context, context.new_page(), base, url)
                tab = context.new_page()
                second = fetch(context, tab, base, url)
                again = fetch(context, tab, base, url, reload=True)
                print(f"{route}, file {what}: first load {first}, second tab {second}, reload {again}")
                context.close()
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()

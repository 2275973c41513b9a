"""The plane's decoder weights, its dots and the test images travel as files over HTTP (issue 17, "A light first
load"): named by their hash under /app/static/, kept by the browser's cache for a second tab and a
reload, the test images in files fetched after the decoder, the file of a dot under the pointer first."""
import gzip
import urllib.error
import urllib.request

import numpy as np
import pytest

from harness import (PLANE, NetworkLog, open_plane, page_point, plane_box, preview, settle, wait_for_decoder,
                     wait_for_test_images, wait_until_idle)
from vae.data import load_mnist

pytestmark = pytest.mark.slow

MB = 1e6


def load(context, page, url: str | None) -> NetworkLog:
    """Open `url` in `page` (reload it when None) until the decoder and every test image are in."""
    log = NetworkLog(context, page)
    page.reload() if url is None else page.goto(url)
    page.locator(PLANE).first.wait_for(state="attached", timeout=60_000)
    wait_for_decoder(page)
    wait_for_test_images(page)
    wait_until_idle(page)
    page.wait_for_timeout(500)
    log.close()
    return log


def test_a_second_tab_and_a_reload_take_the_plane_files_from_the_browsers_cache(chromium, server):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    first = load(context, context.new_page(), f"{server.url}/latent")
    names = sorted(f["url"].rsplit("/", 1)[1] for f in first.files.values())
    assert len(names) == 12 and all(len(name) == 35 and name.endswith(".gz") for name in names)   # decoder, dots, 10 image files
    assert not any(f["cached"] for f in first.files.values()) and first.file_bytes > 4.5 * MB
    assert first.websocket < 1 * MB                                    # the weights and images are not in the websocket
    tab = context.new_page()
    for log in (load(context, tab, f"{server.url}/latent"), load(context, tab, None)):   # a second tab, then its reload
        assert sorted(f["url"].rsplit("/", 1)[1] for f in log.files.values()) == names
        assert all(f["cached"] for f in log.files.values()) and log.file_bytes == 0, log.files
        assert log.websocket < 1 * MB
    context.close()


def dot_under_pointer(page, wanted) -> int:
    """Sweep across the plane until the pointer is on a dot whose index is `wanted`(index): that index."""
    for fx in np.linspace(0.3, 0.7, 41):
        page.mouse.move(*page_point(page, fx, 0.5), steps=1)
        settle(page)
        index = page.locator(".vlp-dot").first.get_attribute("data-index")
        if index and wanted(int(index)):
            return int(index)
    pytest.fail("no such dot was found under the pointer across the centre of the plane")


def until(page, condition, timeout: float = 20) -> None:
    """Let the page run (Playwright hands its events over meanwhile) until condition() holds."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        page.wait_for_timeout(50)
    pytest.fail("the condition did not hold in time")


def test_the_plane_decodes_before_the_test_images_and_fetches_the_file_of_the_dot_under_the_pointer_first(
        chromium, server):
    from app_pages.plane import image_files

    images = load_mnist("test")[0].numpy()
    files = [blob.name for blob in image_files(images)]
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    held, asked, release = [], [], []

    def hold_the_images(route):
        name = route.request.url.rsplit("/", 1)[1]
        if name not in files or release:                               # the decoder's weights go through
            route.continue_()
            return
        asked.append(files.index(name))
        held.append(route)

    context.route("**/app/static/*", hold_the_images)
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_plane(page, server.url)                                      # the decoder is ready: no image has come
    assert asked == [0] and len(held) == 1                            # one file at a time, the first first
    box = plane_box(page)
    page.mouse.move(box["x"] + 0.4 * box["width"], box["y"] + 0.45 * box["height"], steps=2)
    settle(page)
    z, pixels = preview(page)
    assert z is not None and pixels.std() > 0.05                      # decoded under the pointer, in the browser
    index = dot_under_pointer(page, lambda i: i >= 2000)             # a dot whose file is not next in line
    assert "empty" in page.locator(".vlp-dot").first.get_attribute("class")   # its picture has not come yet
    held.pop().continue_()                                            # file 0 arrives; the next one asked for ...
    until(page, lambda: len(asked) >= 2)
    assert asked[1] == index // 1000                                  # ... is the file of the dot under the pointer
    release.append(True)
    for route in held:
        route.continue_()
    held.clear()
    page.locator(".vlp-dot:not(.empty)").first.wait_for()              # its picture, as soon as its file is in
    shown = page.locator(".vlp-dotimg").first.evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)")
    assert np.array_equal(np.asarray(shown).reshape(28, 28), images[index])
    context.close()


def test_when_the_dots_do_not_load_the_plane_says_so_and_still_decodes(chromium, server):
    """The dots' file (9 bytes a test image once unpacked) never arrives: the plane says so in its own words
    and shows no dot of another model, and the decoder, which came, still decodes under the pointer."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})

    def drop_the_dots(route):
        answer = route.fetch()
        if len(gzip.decompress(answer.body())) == 9 * 10_000:
            route.abort()
        else:
            route.fulfill(response=answer)

    context.route("**/app/static/*", drop_the_dots)
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_plane(page, server.url)
    message = page.locator(".vlp-msg.shown").first
    message.wait_for()
    assert message.inner_text().startswith("The dots did not load in this browser")
    box = plane_box(page)
    page.mouse.move(box["x"] + 0.4 * box["width"], box["y"] + 0.45 * box["height"], steps=2)
    settle(page)
    z, pixels = preview(page)
    assert z is not None and pixels.std() > 0.05                      # decoded under the pointer, in the browser
    assert page.locator(".vlp-dot").first.get_attribute("data-index") in (None, "", "-1")   # no dot to show
    context.unroute_all(behavior="ignoreErrors")                       # the images still coming need no handler
    context.close()


@pytest.mark.parametrize("path", ["/app/static/../streamlit_app.py", "/app/static/%2e%2e/streamlit_app.py",
                                  "/app/static/..%2fstreamlit_app.py", "/app/static/%2e%2e%2f.streamlit/config.toml",
                                  "/app/static//etc/passwd", "/app/static/..%5cstreamlit_app.py",
                                  "/app/static/" + "0" * 32 + ".gz"])
def test_a_hostile_or_unknown_name_in_the_files_route_gets_nothing(server, path):
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as answer:
            body = answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    assert status in (400, 403, 404), (status, body[:200])
    assert b"st.navigation" not in body and b"root:" not in body and b"[server]" not in body

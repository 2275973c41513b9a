"""Gestures that share the page (issue 16), on the dashboard's Latent page: the wheel scrolls the page
and leaves the plane's view alone (a hint says how to zoom), Ctrl + wheel zooms; on a touch screen a
one-finger swipe over the plane scrolls the page, two fingers pinch the plane, a tap still pins."""
import pytest

from harness import PLANE, open_phone_plane, open_plane, page_point, plane_box, plane_view, zoom_wheel

pytestmark = pytest.mark.slow

SCROLLED = "() => window.scrollY + [...document.querySelectorAll('*')].reduce((sum, e) => sum + e.scrollTop, 0)"


def test_the_wheel_scrolls_the_page_and_ctrl_wheel_zooms(page, server):
    page.set_viewport_size({"width": 1400, "height": 700})           # the page is taller than the window
    open_plane(page, server.url)
    page.locator(PLANE).first.scroll_into_view_if_needed()
    before, scrolled = plane_view(page), page.evaluate(SCROLLED)
    page.mouse.move(*page_point(page, 0.5, 0.3))
    for _ in range(3):
        page.mouse.wheel(0, 200)
        page.wait_for_timeout(100)
    assert plane_view(page) == before                                  # the view did not move
    assert page.evaluate(SCROLLED) > scrolled + 100                    # the page did
    assert "scroll to zoom" in page.locator(".vlp-hint").first.inner_text()
    page.locator(PLANE).first.scroll_into_view_if_needed()         # the wheel scrolled it, maybe out of sight
    page.mouse.move(*page_point(page, 0.5, 0.5))
    for _ in range(3):
        zoom_wheel(page, -240)
        page.wait_for_timeout(100)
    after = plane_view(page)
    assert after[1] - after[0] < 0.6 * (before[1] - before[0])


def touch(cdp, kind: str, points) -> None:
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
        {"x": x, "y": y, "id": i, "radiusX": 4, "radiusY": 4, "force": 1} for i, (x, y) in enumerate(points)]})


def test_one_finger_scrolls_the_page_two_fingers_pinch_the_plane(chromium, server):
    context, page = open_phone_plane(chromium, server.url)
    cdp = context.new_cdp_session(page)
    box = plane_box(page)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.7
    before, scrolled = plane_view(page), page.evaluate(SCROLLED)
    touch(cdp, "touchStart", [(x, y)])
    for step in range(1, 13):                                        # a one-finger swipe upwards, 240 px
        touch(cdp, "touchMove", [(x, y - 20 * step)])
        page.wait_for_timeout(16)
    touch(cdp, "touchEnd", [])
    page.wait_for_timeout(500)
    assert plane_view(page) == before
    assert page.evaluate(SCROLLED) > scrolled + 50
    assert "two fingers" in page.locator(".vlp-hint").first.inner_text()

    page.locator(PLANE).first.scroll_into_view_if_needed()         # the swipe scrolled it up, maybe out of sight
    page.wait_for_timeout(300)
    box = plane_box(page)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    scrolled = page.evaluate(SCROLLED)
    touch(cdp, "touchStart", [(cx - 30, cy), (cx + 30, cy)])
    for step in range(1, 11):                                        # two fingers apart: zoom in
        touch(cdp, "touchMove", [(cx - 30 - 8 * step, cy), (cx + 30 + 8 * step, cy)])
        page.wait_for_timeout(16)
    touch(cdp, "touchEnd", [])
    page.wait_for_timeout(300)
    after = plane_view(page)
    assert after[1] - after[0] < 0.6 * (before[1] - before[0])
    assert abs(page.evaluate(SCROLLED) - scrolled) < 5                 # the page stayed
    context.close()

"""One instrument (issue 16), in Chromium: the model and the view follow the user from page to page and
through links, the plane fills the screen with its companions beside it, nothing jumps while /latent
loads, and the plane follows Streamlit's dark theme."""
import urllib.parse

import pytest

from harness import (MODEL_MENU, PLANE, PREVIEW, AppServer, open_app, open_plane, plane_view, settle,
                     wait_for_decoder, wait_until_idle)
from test_export_browser import luminance
from vae import data
from vae.datasets import FASHION_MNIST

pytestmark = pytest.mark.slow

NAV = '[data-testid="stTopNav"]'
PAGES = ["Train", "Latent plane", "Reconstruct", "The ELBO, live", "Runs", "Home"]


def query(page) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(page.url).query))


def chosen_model(page) -> str:
    """The chosen model's name: the first line of the caption beside the model menu."""
    return page.locator(f'{MODEL_MENU} [data-testid="stCaptionContainer"]').first.inner_text().split("\n")[0].strip()


def wait_for_query(page, name: str, value: str | None = None, timeout: float = 30_000) -> None:
    """Wait until the address has ?name= (equal to `value`, if given)."""
    page.wait_for_function("""([name, value]) => { const got = new URLSearchParams(location.search).get(name);
                                                   return got !== null && (value === null || got === value); }""",
                           arg=[name, value], timeout=timeout)


def test_every_page_change_from_the_navigation_keeps_a_fashion_model(page, server):
    try:
        data.load_dataset("test", dataset=FASHION_MNIST, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    open_plane(page, server.url, "/latent?model=fashion-mnist-2d")
    assert chosen_model(page) == "fashion-mnist-2d"
    for title in PAGES:
        page.locator(f"{NAV} a", has_text=title).first.click()
        page.locator(MODEL_MENU).first.wait_for()
        wait_until_idle(page)
        wait_for_query(page, "model", "fashion-mnist-2d")
        assert chosen_model(page) == "fashion-mnist-2d", title
    page.get_by_role("link", name="Explore the latent plane").click()          # Home's link
    page.locator(PLANE).first.wait_for()
    wait_until_idle(page)
    assert chosen_model(page) == "fashion-mnist-2d"
    page.locator(".vlp-legend button", has_text="Ankle boot").first.wait_for()   # the plane shows it too


def test_a_links_model_read_on_home_stays_on_the_latent_page(page, server):
    """Home reads ?model= from the link and runs once; the Latent page opened from the navigation then
    showed the default model (each page's menu is a widget of its own)."""
    try:
        data.load_dataset("test", dataset=FASHION_MNIST, fetch=False)
    except data.DataError as exc:
        pytest.skip(f"Fashion-MNIST is not available here: {str(exc)[:200]}")
    open_app(page, f"{server.url}/?model=fashion-mnist-2d", MODEL_MENU)
    wait_until_idle(page)
    assert chosen_model(page) == "fashion-mnist-2d"
    page.locator(f"{NAV} a", has_text="Latent plane").first.click()
    page.locator(PLANE).first.wait_for()
    wait_until_idle(page)
    wait_for_query(page, "model", "fashion-mnist-2d")
    assert chosen_model(page) == "fashion-mnist-2d"
    page.locator(".vlp-legend button", has_text="Ankle boot").first.wait_for()


def test_a_link_with_zoom_and_tab_opens_both_and_a_zoom_survives_a_reload_and_a_page_change(page, server):
    open_plane(page, server.url, "/latent?model=mnist-2d&z=0.5,-0.5&view=0.5,-0.5,1&tab=Interpolate")
    assert plane_view(page) == pytest.approx((-0.5, 1.5, -1.5, 0.5), abs=1e-3)
    assert page.get_by_role("tab", name="Interpolate").get_attribute("aria-selected") == "true"
    assert query(page)["tab"] == "Interpolate" and query(page)["view"] == "0.5,-0.5,1"

    page.locator(".vlp-zoom", has_text="+").first.click()                       # zoom in: the link follows
    page.wait_for_function("() => new URLSearchParams(location.search).get('view') !== '0.5,-0.5,1'")
    zoomed = plane_view(page)
    assert zoomed[1] - zoomed[0] == pytest.approx(1.6, abs=1e-3)
    page.reload()
    page.locator(PLANE).first.wait_for()
    wait_for_decoder(page)
    wait_until_idle(page)
    assert plane_view(page) == pytest.approx(zoomed, abs=1e-3)
    assert page.get_by_role("tab", name="Interpolate").get_attribute("aria-selected") == "true"
    page.locator(f"{NAV} a", has_text="Runs").first.click()                     # away and back
    page.locator(MODEL_MENU).first.wait_for()
    wait_until_idle(page)
    assert "view" in query(page) and query(page)["tab"] == "Interpolate"
    page.locator(f"{NAV} a", has_text="Latent plane").first.click()
    page.locator(PLANE).first.wait_for()
    wait_until_idle(page)
    assert plane_view(page) == pytest.approx(zoomed, abs=1e-3)


def test_a_malformed_view_or_tab_in_a_link_falls_back_with_one_line(page, server):
    open_plane(page, server.url, "/latent?view=1,2,nope&tab=Nowhere")
    said = page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()
    assert len(said) == 1 and "view" in said[0] and "whole plane" in said[0], said
    assert page.get_by_role("tab", name="Manifold").get_attribute("aria-selected") == "true"
    assert "tab" not in query(page) and "view" not in query(page)


def boxes(page) -> dict:
    found = {}
    for name, selector in [("plane", PLANE), ("preview", PREVIEW), ("manifold", ".vlp-manifold"),
                           ("legend", ".vlp-legend button"), ("companions", ".st-key-latent_companions"),
                           ("tabs", '.st-key-latent_companions [role="tablist"]'),
                           ("pinned", '.st-key-latent_plane [data-testid="stMarkdownContainer"]')]:
        found[name] = page.locator(selector).first.bounding_box()
    return found


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("width, height", [(1920, 1080), (1400, 1000), (1024, 768), (414, 896)])
def test_the_plane_is_the_pages_centre_at_every_size(chromium, server, width, height):
    phone = width < 500
    context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_plane(page, server.url)
        page.locator(".vlp-manifold[data-done]").first.wait_for(state="attached")
        settle(page)
        box = boxes(page)
        plane = box["plane"]
        assert plane["x"] >= 0 and plane["x"] + plane["width"] <= width                  # never wider than the window
        assert abs(plane["width"] - plane["height"]) < 1
        for name in ("preview", "manifold", "companions", "pinned"):
            assert not overlaps(plane, box[name]), name
        assert not overlaps(box["preview"], box["pinned"])
        if width == 1920:                       # as tall as the screen allows; everything beside it in view
            assert plane["height"] >= 900 and plane["y"] + plane["height"] <= height
            for name in ("preview", "legend", "companions", "tabs"):
                assert box[name]["x"] >= plane["x"] + plane["width"], name
                assert box[name]["y"] + min(box[name]["height"], 40) <= height, name
            assert box["manifold"]["y"] < height                                       # its top rows, at least
        elif not phone:                         # the side column beside the plane, the companions under it
            assert box["preview"]["x"] >= plane["x"] + plane["width"]
            assert plane["height"] >= min(height - plane["y"] - 16, width - 80 - 260 - 12) - 2
        else:                                   # a phone: the plane as wide as the page, the rest under it
            assert plane["width"] >= width - 40 and box["preview"]["y"] >= plane["y"] + plane["height"]
    finally:
        context.close()


SHIFTS = """window.__shifts = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push({
  value: e.value,
  sources: e.sources.map((s) => [s.node && s.node.dataset ? s.node.dataset.testid : String(s.node),
                                 [s.previousRect.x, s.previousRect.y, s.previousRect.width, s.previousRect.height],
                                 [s.currentRect.x, s.currentRect.y, s.currentRect.width, s.currentRect.height]])
}); }).observe({ type: 'layout-shift', buffered: true });"""


@pytest.mark.parametrize("width, height", [(1920, 1080), (1400, 1000), (1024, 768), (414, 896)])
def test_latent_loads_without_moving_what_it_has_shown(chromium, server, width, height):
    """Cumulative layout shift of /latent from the request to a settled plane, at most 0.1 (Chrome's
    "good"), the median of three loads in new browser contexts (a cold cache), everything counted:
    Streamlit's own switch of its frame to the wide layout (app_pages.layout.wide_frame_first), the model
    menu, the plane's reserve (app_pages.layout), the companions under or beside it."""
    phone = width < 500
    totals, seen = [], []
    for _ in range(3):
        context = chromium.new_context(viewport={"width": width, "height": height}, has_touch=phone, is_mobile=phone)
        context.add_init_script(SHIFTS)
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            open_plane(page, server.url)
            page.wait_for_timeout(1500)
            shifts = page.evaluate("window.__shifts")
            totals.append(sum(s["value"] for s in shifts))
            seen.append(shifts)
        finally:
            context.close()
    assert sorted(totals)[1] <= 0.1, (totals, seen)


def test_fullscreen_shows_the_plane_and_the_preview(page, server):
    open_plane(page, server.url)
    page.locator(".vlp-full").first.click()
    page.wait_for_function("() => !!document.fullscreenElement")
    page.wait_for_timeout(300)
    height = page.evaluate("() => innerHeight")
    plane, preview = page.locator(PLANE).first.bounding_box(), page.locator(PREVIEW).first.bounding_box()
    assert plane["height"] >= 0.85 * height - 80 and preview["width"] >= 150
    assert preview["y"] + preview["height"] <= height
    # the plane's own fullscreen look (it lives in a shadow root): its page colour, the preview over the plane
    assert "vlp-fullscreen" in page.locator(".vlp").first.get_attribute("class")
    assert page.locator(".vlp-full").first.inner_text() == "Exit fullscreen"
    assert plane["x"] <= preview["x"] and preview["x"] + preview["width"] <= plane["x"] + plane["width"] + 240


def test_the_plane_follows_streamlits_dark_theme_and_stays_readable(chromium, tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMLIT_THEME_BASE", "dark")
    monkeypatch.setenv("STREAMLIT_THEME_BACKGROUND_COLOR", "#0e1117")
    monkeypatch.setenv("STREAMLIT_THEME_SECONDARY_BACKGROUND_COLOR", "#262730")
    monkeypatch.setenv("STREAMLIT_THEME_TEXT_COLOR", "#fafafa")
    with AppServer(tmp_path / "runs", tmp_path / "log") as dark:
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_app(page, f"{dark.url}/latent", PLANE)
        page.locator('.vlp[data-theme="dark"]').first.wait_for(state="attached")
        settle(page)
        corner = page.locator(".vlp-plane").first.evaluate(
            "(c) => Array.from(c.getContext('2d').getImageData(2, 2, 1, 1).data)")
        tick = page.locator(".vlp").first.evaluate("(e) => getComputedStyle(e).getPropertyValue('--vlp-tick')")
        tick = [int(tick.strip()[i:i + 2], 16) for i in (1, 3, 5)]
        surface, text = luminance(corner[:3]), luminance(tick)
        assert surface < 0.05
        assert (text + 0.05) / (surface + 0.05) >= 4.5                 # WCAG AA for the axes' numbers
        context.close()


def test_a_new_pin_updates_the_open_companion_that_starts_from_it(page, server):
    """The Interpolate tab goes from A to the pinned point: a pin (which reruns only the plane's part of
    the page) must redraw its strip too."""
    from harness import pin_plane

    open_plane(page, server.url, "/latent?tab=Interpolate&z=0,0")
    strip = page.locator('[data-testid="stImage"]', has_text="From A to B").locator("img").first
    before = strip.get_attribute("src")
    pin_plane(page, 0.85, 0.15)
    wait_until_idle(page)
    page.wait_for_function("(src) => [...document.querySelectorAll('[data-testid=stImage] img')].some("
                           "(img) => img.closest('[data-testid=stImage]').innerText.includes('From A to B') && "
                           "img.getAttribute('src') !== src)", arg=before, timeout=30_000)


def test_each_tab_opens_when_clicked_one_after_another(page, server):
    open_plane(page, server.url)
    for name in ["Sample", "Interpolate", "A dot's story", "Manifold", "Interpolate"]:
        page.get_by_role("tab", name=name).click()
        wait_until_idle(page)
        wait_for_query(page, "tab", name) if name != "Manifold" else page.wait_for_function(
            "() => !new URLSearchParams(location.search).has('tab')")
        assert page.get_by_role("tab", name=name).get_attribute("aria-selected") == "true", name


@pytest.mark.parametrize("tab", ["Sample", "Interpolate", "A dot's story"])
def test_each_companion_fits_its_column_beside_the_plane(chromium, server, tab):
    """At 1920×1080 the companions sit in a column of about 500 px: nothing in the open tab overlaps
    anything else there, and no button's label is cut short."""
    context = chromium.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_plane(page, server.url, "/latent?tab=" + urllib.parse.quote(tab))
        settle(page)
        found = page.evaluate("""() => {
            const column = document.querySelector('.st-key-latent_companions');
            const boxes = [...column.querySelectorAll('[data-testid=stImage] img, [data-testid=stMarkdownContainer], '
                                                      + '[data-testid=stCaptionContainer], button, [data-testid=stNumberInput]')]
                .filter((e) => e.offsetParent !== null && !e.closest('[data-testid=stElementToolbar]'))   // not hover tools
                .map((e) => [e, e.getBoundingClientRect()]);
            const overlaps = [];
            for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                const [a, ra] = boxes[i], [b, rb] = boxes[j];
                const own = (e) => e.closest('[data-testid=stElementContainer]');   // parts of one element may
                if (a.contains(b) || b.contains(a) || own(a) === own(b)) continue;    // overlap (a slider's value)
                if (ra.left < rb.right - 1 && rb.left < ra.right - 1 && ra.top < rb.bottom - 1 && rb.top < ra.bottom - 1)
                    overlaps.push([a, b].map((e) => (e.innerText || e.getAttribute('aria-label') || e.tagName).slice(0, 40)));
            }
            const cut = [...column.querySelectorAll('button')].filter((b) => b.offsetParent !== null)
                .flatMap((b) => [...b.querySelectorAll('*')]).filter((e) => e.scrollWidth > e.clientWidth + 1)
                .map((e) => e.innerText);
            return { overlaps, cut };
        }""")
        assert found == {"overlaps": [], "cut": []}, found
    finally:
        context.close()

"""The decoder's map in Chromium at 1400 and 1024 px: turning it on colours the plane's background,
cell by cell, as the package's decoder_map reads the same square (the class's dot colour, deeper where
the classifier is surer), and a zoom brings the map of the new square."""
import numpy as np
import pytest

import vae
from harness import PLANE, ROOT, open_plane, page_point, plane_box, plane_view, wait_until_idle, zoom_wheel
from vae import inference
from vae.classifier import classifier_path, fused_for_inference, load_classifier

pytestmark = pytest.mark.slow            # `make test-slow`: whole pages in Chromium, seconds each

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]          # the dots' colours (plane.js)
RGB = np.array([[int(c[i: i + 2], 16) for i in (1, 3, 5)] for c in COLOURS], dtype=np.float64)


@pytest.fixture(scope="module")
def reader():
    model, _ = vae.load_checkpoint(ROOT / "checkpoints" / "mnist-2d.pt")
    classifier = fused_for_inference(load_classifier(classifier_path("mnist"))[0])   # as the page reads
    return lambda square: inference.decoder_map(model, classifier, inference.dims_basis(2, (0, 1)), square, 100)


def expected_colour(label: int, confidence: float) -> np.ndarray:
    """Written out from the legend: white at chance (0.1), half the class colour at confidence 1."""
    depth = 0.5 * np.clip((confidence - 0.1) / 0.9, 0, 1)
    return np.round(255 + depth * (RGB[label] - 255))


def plane_pixels(page, points_css) -> np.ndarray:
    """RGB of the plane canvas (the map and the dots, without the pin's overlay) at CSS pixel points."""
    return np.asarray(page.locator(".vlp-plane").first.evaluate("""(canvas, points) => {
        const scale = canvas.width / canvas.getBoundingClientRect().width, ctx = canvas.getContext('2d');
        return points.map(([x, y]) => Array.from(ctx.getImageData(Math.floor(x * scale), Math.floor(y * scale), 1, 1).data.slice(0, 3)));
    }""", points_css), dtype=np.float64)


def map_extent(page) -> tuple[float, ...] | None:
    shown = page.locator(".vlp-plane").first.get_attribute("data-map")
    return tuple(float(v) for v in shown.split(",")) if shown else None


def cell_centres_on_screen(page, extent, n=100, every=7):
    """CSS pixel positions of every `every`-th cell centre of the map that lies on the plane, with the
    cell's (row, column)."""
    x0, x1, y0, y1 = plane_view(page)
    size = plane_box(page)["width"]
    found = []
    for row in range(0, n, every):
        for col in range(0, n, every):
            x = extent[0] + (col + 0.5) * (extent[1] - extent[0]) / n
            y = extent[3] - (row + 0.5) * (extent[3] - extent[2]) / n
            px, py = (x - x0) / (x1 - x0) * size, (y1 - y) / (y1 - y0) * size
            if 2 <= px <= size - 2 and 2 <= py <= size - 2:
                found.append(((px, py), (row, col)))
    return found


def assert_map_drawn(page, reader) -> tuple[float, ...]:
    extent = map_extent(page)
    classes, confidence = reader(extent)
    centres = cell_centres_on_screen(page, extent)
    shown = plane_pixels(page, [p for p, _ in centres])
    expected = np.array([expected_colour(classes[r, c], round(confidence[r, c] * 255) / 255) for _, (r, c) in centres])
    matches = np.all(np.abs(shown - expected) <= 3, axis=1)
    # Dots, grid lines and tick labels cover some cell centres; most show the map's own colour.
    assert len(centres) > 100 and matches.mean() > 0.6, f"{matches.mean():.0%} of {len(centres)} cells match"
    return extent


@pytest.mark.parametrize("width, height", [(1400, 1000), (1024, 768)], ids=["1400px", "1024px"])
def test_the_map_colours_the_plane_under_the_dots_and_follows_a_zoom(chromium, server, reader, width, height):
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_plane(page, server.url)
    page.locator(PLANE).first.scroll_into_view_if_needed()
    grid = [(fx * plane_box(page)["width"], fy * plane_box(page)["height"])
            for fx in np.linspace(0.05, 0.95, 19) for fy in np.linspace(0.05, 0.95, 19)]
    before = plane_pixels(page, grid)
    assert map_extent(page) is None

    page.get_by_text("Decoder's map", exact=True).click()
    page.locator(".vlp-plane[data-map]").first.wait_for(state="attached")
    wait_until_idle(page)
    after = plane_pixels(page, grid)
    changed = np.any(np.abs(after - before) > 8, axis=1).mean()
    assert changed > 0.5, f"only {changed:.0%} of the plane's pixels changed colour"
    first = assert_map_drawn(page, reader)
    assert first == pytest.approx(plane_view(page), abs=0.02 * (first[1] - first[0]))     # the visible square
    legend = page.locator(".vlp-maplegend").first
    assert legend.is_visible() and "0.10" in legend.inner_text()
    classes, confidence = reader(first)
    assert f"{100 * np.mean(confidence >= 0.9):.1f} % of the map's square" in legend.inner_text()
    assert "map=1" in page.url

    page.locator(PLANE).first.scroll_into_view_if_needed()           # the toggle is below the plane
    wait_until_idle(page)
    for _ in range(40):                      # zoom in around the pointer; on a busy machine a rerun may
        page.mouse.move(*page_point(page, 0.6, 0.4))                 # still be moving the layout: aim again
        zoom_wheel(page, -240)
        page.wait_for_timeout(100)
        view = plane_view(page)
        if view[1] - view[0] < 0.5 * (first[1] - first[0]):
            break
    assert view[1] - view[0] < 0.6 * (first[1] - first[0])
    close = lambda extent: extent == pytest.approx(view, abs=0.02 * (view[1] - view[0]))   # noqa: E731
    for _ in range(600):                              # the browser reports the view, Python answers with its map
        if close(map_extent(page)):
            break
        page.wait_for_timeout(100)
    wait_until_idle(page)
    assert close(assert_map_drawn(page, reader))
    page.get_by_text("Decoder's map", exact=True).click()
    wait_until_idle(page)
    page.locator(".vlp-plane:not([data-map])").first.wait_for(state="attached")
    assert not page.locator(".vlp-maplegend").first.is_visible() and "map=1" not in page.url
    context.close()

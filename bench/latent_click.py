"""Server-side cost of one click on the latent plane, as the page does it: decode the point, make the
280×280 PNG that st.image sends, and serialize the (cached, unchanged) figure the way st.plotly_chart
does on every rerun (figure check, JSON spec, element id hash). Also times the once-per-view figure
build and the once-per-checkpoint encoding of the test set that st.cache_data keeps.

    PYTHONPATH=. .venv/bin/python bench/latent_click.py [checkpoint] [--clicks 200]
"""
import argparse
import hashlib
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import plotly.io
import plotly.tools
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # run from anywhere, no install needed

from vae import catalog, inference, load_checkpoint, plots  # noqa: E402
from vae.data import load_mnist  # noqa: E402


def one_click(model, figure, xy) -> int:
    image = inference.decode_points(model, inference.embed_2d(model, [xy]))[0]
    png = io.BytesIO()
    Image.fromarray(plots.enlarge(image, 10)).save(png, "PNG")
    checked = plotly.tools.return_figure_from_figure_or_data(figure, validate_figure=True)
    spec = plotly.io.to_json(checked, validate=False)
    hashlib.md5(spec.encode()).hexdigest()          # Streamlit hashes the spec into the element id
    return len(spec) + png.tell()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", default=str(catalog.default_checkpoint()))
    parser.add_argument("--clicks", type=int, default=200)
    args = parser.parse_args()
    model, _ = load_checkpoint(args.checkpoint)
    images, labels = load_mnist("test")
    started = time.perf_counter()
    points = inference.encode_dataset(model, images)[:, :2]
    encode_ms = 1e3 * (time.perf_counter() - started)
    labels = labels.numpy()
    extent = plots.plane_extent(points)
    rng = np.random.default_rng(0)
    clicks = rng.uniform([extent[0], extent[2]], [extent[1], extent[3]], size=(args.clicks, 2))
    started = time.perf_counter()
    figure = plots.latent_plane(points, labels, extent, selected=0)
    build_ms = 1e3 * (time.perf_counter() - started)
    one_click(model, figure, tuple(clicks[0]))                                   # warm up
    times = []
    for xy in clicks:
        started = time.perf_counter()
        one_click(model, figure, tuple(xy))
        times.append(1e3 * (time.perf_counter() - started))
    print(f"encode the 10,000 test digits (once per checkpoint, st.cache_data): {encode_ms:.0f} ms")
    print(f"build the plane figure (once per checkpoint and view, st.cache_resource): {build_ms:.1f} ms")
    print(f"per click (decode + PNG + figure serialization), {len(times)} clicks: "
          f"median {statistics.median(times):.1f} ms, p90 {np.percentile(times, 90):.1f} ms, max {max(times):.1f} ms")


if __name__ == "__main__":
    main()

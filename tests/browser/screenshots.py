"""Save a screenshot of each page after a realistic interaction, for the README.

    .venv/bin/python tests/browser/screenshots.py [--out docs] [--only latent decoder_map explore fashion reconstruct elbo train]
    .venv/bin/python tests/browser/screenshots.py --lang zh-CN [--only …]

Starts the app like the browser tests do (own server, temporary runs folder), then: pins a point on the
latent plane and hovers another (the browser's live decoding), opens the plane with the decoder's map on,
opens the prior samples, the interpolation and a dot's story, opens the shipped 16-D model's PCA view and
its sliders (z3 moved), opens the shipped Fashion-MNIST model, uploads a photo of a
test digit, draws a new ε on the ELBO page, trains a short run on a subset. Writes docs/latent.png,
docs/latent-fullscreen.png, docs/latent-dark.png (Streamlit's dark theme), docs/decoder-map.png,
docs/prior.png, docs/interpolate.png, docs/story.png, docs/pca.png, docs/sliders.png, docs/fashion.png, docs/reconstruct.png,
docs/elbo.png and docs/train.png; exports the shipped model as one file and opens it from disk
(docs/export.png, docs/export-dark.png).

With --lang (zh-CN), the pages open in that language (?lang=) and each file takes its tag as a suffix
(docs/latent-zh-CN.png, for README.zh-CN.md): the same set, the exported file in that language too (the
words the Latent page's download gives it in a session of that language).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parent)]

from harness import (PLANE, AppServer, launch_chromium, open_app, open_plane, page_point,  # noqa: E402
                     photo_of_digit, pin_plane, upload, wait_traversals, wait_until_idle)

SERVER = None                                   # the AppServer of this run (its runs folder)
LANG = None                                     # --lang: the pages' language (?lang=) and the files' suffix


def link(path: str) -> str:
    """`path` of the app, in this run's language."""
    return path if LANG is None else path + ("&" if "?" in path else "?") + f"lang={LANG}"


def png(out: Path, name: str) -> Path:
    """The file of picture `name`: docs/latent.png, or docs/latent-zh-CN.png with --lang zh-CN."""
    return out / (f"{name}-{LANG}.png" if LANG else f"{name}.png")


def words(text: str) -> str:
    """The app's English `text` (a button's name) in this run's language, from the app's catalog."""
    from app_pages.i18n import translations

    return translations(LANG or "en").gettext(text)


def opening(text: str) -> str:
    """`text`'s words in this run's language up to its first placeholder: "Its 8 nearest neighbours …"."""
    return words(text).split("{")[0].strip()


def run_state(state: str) -> str:
    """The end of the Train page's run heading in this run's language: ": finished", "：已完成"."""
    return words("Run {folder}: {state}").split("}")[1].split("{")[0] + words(state)
FULL_HD = {"width": 1920, "height": 1080}      # a projector's screen
SIZE = {"latent": FULL_HD, "fullscreen": FULL_HD, "dark": FULL_HD, "decoder_map": FULL_HD,
        "explore": FULL_HD, "fashion": FULL_HD,
        "pca": {"width": 1280, "height": 1200}, "sliders": {"width": 1280, "height": 1000},
        "reconstruct": {"width": 1280, "height": 1350},
        "elbo": {"width": 1280, "height": 1100},
        "train": {"width": 1280, "height": 2150},
        "export": {"width": 1280, "height": 1080}}


def shoot_latent(page, url: str, out: Path) -> None:
    open_plane(page, url, link("/latent"))
    pin_plane(page, 0.62, 0.3)
    page.locator(".vlp-manifold[data-done]").first.wait_for()      # every manifold tile decoded
    page.mouse.move(*page_point(page, 0.45, 0.55), steps=8)        # the live preview under the pointer
    page.wait_for_timeout(300)
    page.screenshot(path=png(out, "latent"))


def shoot_fullscreen(page, url: str, out: Path) -> None:
    """The plane in fullscreen, as on a projector, the preview over its corner: docs/latent-fullscreen.png."""
    open_plane(page, url, link("/latent"))
    pin_plane(page, 0.3, 0.62)
    page.locator(".vlp-full").first.click()
    page.wait_for_function("() => document.fullscreenElement")
    page.wait_for_timeout(500)
    page.mouse.move(*page_point(page, 0.62, 0.3), steps=8)
    page.wait_for_timeout(300)
    page.screenshot(path=png(out, "latent-fullscreen"))


def shoot_dark(page, url: str, out: Path) -> None:
    """The Latent page under Streamlit's dark theme (its own server, theme.base=dark): docs/latent-dark.png."""
    import os

    dark = {"STREAMLIT_THEME_BASE": "dark", "STREAMLIT_THEME_BACKGROUND_COLOR": "#0e1117",
            "STREAMLIT_THEME_SECONDARY_BACKGROUND_COLOR": "#262730", "STREAMLIT_THEME_TEXT_COLOR": "#fafafa"}
    saved = {name: os.environ.get(name) for name in dark}
    os.environ.update(dark)
    try:
        with tempfile.TemporaryDirectory() as scratch, AppServer(Path(scratch) / "runs", Path(scratch) / "log") as server:
            open_plane(page, server.url, link("/latent?model=fashion-mnist-2d&tab=Manifold"))
            pin_plane(page, 0.4, 0.6)
            page.locator(".vlp-manifold[data-done]").first.wait_for()
            page.mouse.move(*page_point(page, 0.55, 0.4), steps=8)
            page.wait_for_timeout(300)
            page.screenshot(path=png(out, "latent-dark"))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def shoot_decoder_map(page, url: str, out: Path) -> None:
    open_plane(page, url, link("/latent?map=1"))                   # the link turns the decoder's map on
    page.locator(".vlp-plane[data-map]").first.wait_for(state="attached")
    wait_until_idle(page)
    page.locator(".vlp-maplegend").first.scroll_into_view_if_needed()
    page.mouse.move(*page_point(page, 0.35, 0.6), steps=8)
    page.wait_for_timeout(300)
    page.screenshot(path=png(out, "decoder-map"))


def shoot_explore(page, url: str, out: Path) -> None:
    """Two of the Latent page's tabs, each with what it draws on the plane: docs/interpolate.png, docs/story.png."""
    open_plane(page, url, link("/latent"))
    pin_plane(page, 0.7, 0.35)
    for tab, name, last in (("Sample", "prior", "Draw other samples"),
                            ("Interpolate", "interpolate", "Download as an animation (GIF)"),
                            ("A dot's story", "story", "Its 8 nearest neighbours in latent space, labelled {labels}.")):
        page.get_by_role("tab", name=words(tab)).click()
        wait_until_idle(page)
        page.locator(f"text={opening(last)} >> visible=true").first.wait_for(timeout=120_000)   # the open tab's results
        page.wait_for_timeout(800)
        page.screenshot(path=png(out, name))


def shoot_pca(page, url: str, out: Path) -> None:
    """The shipped 16-dimensional model seen through its PCA plane: docs/pca.png."""
    open_plane(page, url, link("/latent?model=mnist-16d&dims=pca"))
    page.get_by_text(opening("PCA view: the plane of the first two principal components of the test encodings ({first} "
                             "and {second} of their variance), through their mean; decoding maps a point back with the "
                             "other {count} components at their mean.")).first.wait_for()
    page.mouse.move(*page_point(page, 0.55, 0.45), steps=8)
    page.wait_for_timeout(300)
    page.screenshot(path=png(out, "pca"))


def shoot_sliders(page, url: str, out: Path) -> None:
    """The shipped 16-dimensional model's sliders and traversals, z3 moved, under its plane: docs/sliders.png."""
    open_plane(page, url, link("/latent?model=mnist-16d"))
    pin_plane(page, 0.6, 0.4)
    box = page.locator(".vlp-dims").first
    box.scroll_into_view_if_needed()
    page.locator(".vlp-dims .vlp-dim input").nth(3).fill("1.6")
    wait_traversals(page, timeout=120)
    wait_until_idle(page)
    box.screenshot(path=png(out, "sliders"))


def shoot_fashion(page, url: str, out: Path) -> None:
    open_plane(page, url, link("/latent?model=fashion-mnist-2d"))
    pin_plane(page, 0.4, 0.6)
    page.locator(".vlp-manifold[data-done]").first.wait_for()
    page.mouse.move(*page_point(page, 0.55, 0.4), steps=8)
    page.wait_for_timeout(300)
    page.screenshot(path=png(out, "fashion"))


def shoot_reconstruct(page, url: str, out: Path) -> None:
    from vae.data import load_mnist

    open_app(page, url + link("/reconstruct"), '[data-testid="stFileUploaderDropzoneInput"]')
    upload(page, "photo-of-a-4.jpg", photo_of_digit(load_mnist("test")[0][4].numpy(), "JPEG"), "image/jpeg")
    page.locator('[data-testid="stImage"]', has_text=words("reconstruction")).wait_for()
    page.locator(PLANE).first.wait_for()
    wait_until_idle(page)
    page.wait_for_timeout(800)
    page.mouse.move(*page_point(page, 0.6, 0.45), steps=8)
    page.wait_for_timeout(300)
    page.screenshot(path=png(out, "reconstruct"), full_page=True)


def shoot_elbo(page, url: str, out: Path) -> None:
    open_app(page, url + link("/elbo"), PLANE)
    page.get_by_role("button", name=words("Draw another ε")).click()
    wait_until_idle(page)
    page.wait_for_timeout(800)
    page.screenshot(path=png(out, "elbo"))


def shoot_train(page, url: str, out: Path) -> None:
    open_app(page, url + link("/train"), f"text={words('Start training')}")
    for label, value in {"Epochs": 3, "Batch size": 64, "Training subset": 10000}.items():
        page.get_by_role("spinbutton", name=words(label), exact=True).fill(str(value))
    page.get_by_role("button", name=words("Start training")).click()
    running = page.locator("h3", has_text=run_state("running")).first          # the new run (not one shown before)
    running.wait_for(timeout=120_000)
    folder = running.inner_text().removesuffix(run_state("running"))
    page.locator("h3", has_text=folder + run_state("finished")).wait_for(timeout=300_000)
    wait_until_idle(page)
    page.locator(".vlp-replay:not([hidden])").wait_for()           # the replay of the run's snapshots
    page.locator(".vlp-frame").first.fill("3")                     # mid first epoch: the clusters forming
    page.wait_for_timeout(800)
    page.screenshot(path=png(out, "train"))


def shoot_export(page, url: str, out: Path) -> None:
    """The shipped model exported as one file (vae.export), opened from disk with the network off:
    docs/export.png (a pin and the pointer's decoding), docs/export-dark.png (dark theme, fullscreen). With
    --lang, in the words the Latent page's download gives the file in a session of that language."""
    from vae import export, web

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "mnist-2d-latent-explorer.html"
        said = {key: words(text) for key, (_line, text) in web.words().items()}
        said.update({key: words(text) for key, text in export.PAGE_WORDS.items()})
        export.export_html(Path(__file__).resolve().parents[2] / "checkpoints" / "mnist-2d.pt", path, strings=said,
                           lang=LANG or "en")
        page.context.set_offline(True)
        page.goto(path.as_uri() + "#z=1.2,0.9")
        page.locator(".vlp-manifold[data-done]").first.wait_for()
        box = page.locator(".vlp-planewrap").bounding_box()
        page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.55 * box["height"], steps=8)
        page.wait_for_timeout(300)
        page.screenshot(path=png(out, "export"))
        page.select_option("#theme", "dark")
        page.locator(".vlp-full").click()
        page.wait_for_function("() => document.fullscreenElement")
        page.wait_for_timeout(500)
        box = page.locator(".vlp-planewrap").bounding_box()
        page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.35 * box["height"], steps=8)
        page.wait_for_timeout(300)
        page.screenshot(path=png(out, "export-dark"))


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--only", nargs="*", choices=["latent", "fullscreen", "dark", "decoder_map", "explore", "pca", "sliders",
                                                      "fashion", "reconstruct", "elbo", "train", "export"],
                        help="some pages only")
    parser.add_argument("--lang", choices=["zh-CN"], help="the pages in this language (files docs/<name>-<lang>.png)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, AppServer(Path(scratch) / "runs", Path(scratch) / "log") as server, \
            sync_playwright() as playwright:
        global SERVER, LANG
        SERVER, LANG = server, args.lang
        browser = launch_chromium(playwright)
        shots = [globals()[f"shoot_{name}"] for name in args.only or []] or \
            [shoot_latent, shoot_fullscreen, shoot_dark, shoot_decoder_map, shoot_explore, shoot_pca, shoot_sliders, shoot_fashion,
             shoot_reconstruct, shoot_elbo,
             shoot_train, shoot_export]
        for shoot in shots:
            name = shoot.__name__.removeprefix("shoot_")
            page = browser.new_page(viewport=SIZE[name])
            shoot(page, server.url, args.out)
            page.close()
            print(f"saved {name.replace('_', '-')} in {args.out}")
        browser.close()


if __name__ == "__main__":
    main()

"""The Latent page's "more ways to explore": samples from the prior, interpolation between two
points, and one test digit's story. Each draws its widgets and results, and returns what it wants
drawn on the plane (in the plane's two coordinates). Also the words of the explorer it downloads."""
from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from app_pages import plots
from app_pages.i18n import _
from vae import inference


def explorer_words(dataset, view, encodings: np.ndarray) -> dict:
    """vae.export.explorer_html's words in the session's language: the plane's (the dashboard's `strings`) and
    the page's own, the class names, the language's tag and the view's note. Made while the page runs: the
    download button's file is made later, outside the session, where every word would be English."""
    from app_pages.common import class_names, view_note
    from app_pages.i18n import language
    from app_pages.plane import plane_strings
    from vae.export import PAGE_WORDS

    choice = st.session_state.get("plane_choice")
    note = view.note and (view_note(len(view.basis.origin), choice, encodings) if choice else view.note)
    return {"strings": {**plane_strings(), **{key: _(text) for key, text in PAGE_WORDS.items()}},
            "class_names": list(class_names(dataset)), "lang": language(), "note": note}


def classifier(dataset: str = "mnist"):
    """The shipped CNN that reads a dataset's images, or None if it cannot be opened (_classifier), with a
    spinner in the session's language while it loads."""
    with st.spinner(_("Loading the classifier…")):
        return _classifier(dataset)


@st.cache_resource(show_spinner=False)
def _classifier(dataset: str = "mnist"):
    """The shipped CNN that reads a dataset's images (99.21 % on the MNIST test set, see
    bench/quality.md for Fashion-MNIST), or None if it cannot be opened."""
    from vae.checkpoint import CheckpointError
    from vae.classifier import classifier_path, load_classifier
    from vae.datasets import get_dataset

    try:
        return load_classifier(classifier_path(dataset), dataset=get_dataset(dataset))[0]
    except (OSError, CheckpointError):
        return None


def read_classes(images, dataset: str = "mnist") -> list[int] | None:
    """The class the dataset's classifier reads in each image (N, 28, 28), uint8 or float in [0, 1]:
    vae.classifier.predict, as `python -m vae evaluate` reads them; None without the classifier."""
    from vae.classifier import predict
    from vae.data import to_float

    model = classifier(dataset)
    if model is None:
        return None
    return predict(model, to_float(np.asarray(images))).tolist()


def readings(images, dataset: str = "mnist") -> list[tuple[int, float]] | None:
    """(class, confidence) the dataset's classifier reads in each image (N, 28, 28), uint8 or float in
    [0, 1]: its argmax, as read_classes, and the softmax's largest probability; None without the classifier."""
    import torch

    from vae.data import to_float

    model = classifier(dataset)
    if model is None:
        return None
    with torch.inference_mode():
        best = model(to_float(np.asarray(images))).softmax(dim=1).max(dim=1)
    return list(zip(best.indices.tolist(), best.values.tolist()))


def grid(decodings: np.ndarray, per_row: int) -> np.ndarray:
    """Decodings (N, 28, 28) in [0, 1] tiled per_row to a row, grey gaps, the last row padded dark."""
    rows = [decodings[i: i + per_row] for i in range(0, len(decodings), per_row)]
    rows[-1] = np.concatenate([rows[-1], np.zeros((per_row - len(rows[-1]), 28, 28), np.float32)])
    return plots.digit_rows(*rows)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes(frames: np.ndarray, scale: int = 6, ms: int = 120) -> bytes:
    """An animated GIF of decodings (N, 28, 28) in [0, 1], there and back, looping."""
    pictures = [Image.fromarray(plots.enlarge(frame, scale)) for frame in frames]
    pictures = pictures + pictures[-2:0:-1]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=ms, loop=0)
    return buffer.getvalue()


def _next_seed() -> None:
    st.session_state.prior_seed = int(st.session_state.get("prior_seed", 0)) + 1


def prior_samples(model, view) -> np.ndarray | None:
    """k decodings of z ~ N(0, T² I), seeded; returns their positions on the plane, or None."""
    left, middle, right = st.columns(3)
    count = left.slider(_("Samples"), 8, 64, 16, step=8, key="prior_count")
    temperature = middle.slider(_("Temperature (σ scale)"), 0.25, 3.0, 1.0, step=0.25, key="prior_temperature",
                                help=_("1 samples the prior itself. Below 1 stays near its centre; above 1 "
                                       "goes out where the encoder put few digits, and the decodings degrade."))
    seed = right.number_input(_("Seed"), 0, 2**31 - 1, 0, key="prior_seed",
                              help=_("The same seed draws the same samples."))
    st.button(_("Draw other samples"), key="prior_next", on_click=_next_seed)
    z = inference.sample_prior(model, count, seed=int(seed), temperature=temperature)
    st.image(plots.enlarge(grid(inference.decode_points(model, z), 8), 3),
             caption=_("{count} decodings of z ~ N(0, {temperature}² I), seed {seed}; the black diamonds on the "
                       "plane mark where they were drawn.").format(count=count, temperature=f"{temperature:g}",
                                                                   seed=int(seed)))
    return view.basis.to_plane(z) if st.toggle(_("Mark them on the plane"), True, key="prior_show") else None


def _endpoint(label: str, default: str, pin_z: np.ndarray, encodings: np.ndarray, key: str, dataset,
              model_key: tuple) -> np.ndarray:
    """One end of the path. The menu's values are its English words in every language (a switch keeps the
    choice), shown in the session's."""
    from app_pages.common import item_word

    item, word = dataset.item, item_word(dataset)
    yours = (st.session_state.get("reconstruct_of") or {}).get("model") == model_key   # encoded by this model
    names = {"the pinned point": _("the pinned point"), f"a test {item}": _("a test {item}").format(item=word)}
    if yours:
        names[f"your {item} (Reconstruct page)"] = _("your {item} (Reconstruct page)").format(item=word)
    sources = list(names)
    source = st.selectbox(label, sources, index=sources.index(default.format(item=item)), key=f"{key}_source",
                          format_func=names.get)
    if source == "the pinned point":
        return pin_z
    if source == f"a test {item}":
        index = st.number_input(_("{end}: test {item} index").format(end=label, item=word), 0, len(encodings) - 1,
                                0 if key == "interp_a" else 1, key=f"{key}_index")
        return encodings[int(index)]
    code = np.asarray(st.session_state.reconstruct_code, dtype=np.float32)
    return code if code.shape == encodings.shape[1:] else pin_z


def interpolation(model, view, pin_z: np.ndarray, encodings: np.ndarray, dataset, model_key: tuple) -> np.ndarray | None:
    """The decodings along a path from A to B; returns the path on the plane."""
    a_column, b_column = st.columns(2)
    with a_column:
        a = _endpoint("A", "a test {item}", pin_z, encodings, "interp_a", dataset, model_key)
    with b_column:
        b = _endpoint("B", "the pinned point", pin_z, encodings, "interp_b", dataset, model_key)
    steps_column, mode_column = st.columns(2)
    steps = steps_column.slider(_("Steps"), 5, 30, 10, key="interp_steps")
    mode = mode_column.radio(_("Path"), ["linear", "slerp"], horizontal=True, key="interp_mode",
                             format_func={"linear": _("straight line"), "slerp": _("spherical (slerp)")}.get,
                             help=_("Spherical interpolation turns at a constant rate around the prior's "
                                    "centre instead of cutting across it, where typical codes of a "
                                    "many-dimensional Gaussian rarely lie."))
    path = inference.interpolate(a, b, steps, mode=mode)
    decodings = inference.decode_points(model, path)
    strip = plots.enlarge(plots.digit_rows(decodings), 3)
    st.image(strip, caption=(_("From A to B in {steps} steps, in all {count} latent dimensions (the plane shows the "
                               "path's projection).") if model.latent_dim > 2 else
                             _("From A to B in {steps} steps.")).format(steps=steps, count=model.latent_dim))
    png_column, gif_column = st.columns(2)
    png_column.download_button(_("Download the strip (PNG)"), png_bytes(strip), "interpolation.png", "image/png",
                               key="interp_png")
    gif_column.download_button(_("Download as an animation (GIF)"), gif_bytes(decodings), "interpolation.gif",
                               "image/gif", key="interp_gif")
    return view.basis.to_plane(path)


def dot_story(model, view, pin_xy, encodings: np.ndarray, plane_points: np.ndarray, images, labels,
              dataset) -> dict | None:
    """One test image: original and reconstruction with what the classifier reads in each, its
    posterior as an ellipse on the plane, and its nearest neighbours in latent space."""
    if "story_index" not in st.session_state:
        st.session_state.story_index = 0
    buttons = st.container(horizontal=True, gap="small")       # they wrap in a narrow column, never cut short
    if buttons.button(_("The dot nearest the pinned point"), key="story_pin"):
        st.session_state.story_index = int(inference.nearest(plane_points, pin_xy, 1)[0])
    if buttons.button(_("Random"), key="story_random"):
        st.session_state.story_index = int(np.random.default_rng().integers(len(images)))
    if buttons.button(_("Next"), key="story_next"):
        st.session_state.story_index = (int(st.session_state.story_index) + 1) % len(images)
    from app_pages.common import class_names, item_word

    item, names = item_word(dataset), class_names(dataset)
    index = int(st.number_input(_("Test {item} index").format(item=item), 0, len(images) - 1, key="story_index"))
    image = images[index].numpy()
    mean, std = inference.posterior(model, image)
    recon = inference.decode_points(model, mean[None])[0]
    reads = read_classes(np.stack([image / 255.0, recon]).astype(np.float32), dataset.name)
    said = ((lambda i: _("; the classifier reads “{read}”").format(read=names[reads[i]])) if reads
            else (lambda i: ""))
    original, reconstruction = st.columns(2)                   # each picture as wide as its half, at most 140 px
    original.image(plots.enlarge(image, 5), width=140, caption=_("test {item} #{index}, labelled “{label}”").format(
        item=item, index=index, label=names[labels[index]]) + said(0))
    reconstruction.image(plots.enlarge(recon, 5), width=140, caption=_("decoded from its mean") + said(1))
    (mx, my), (sx, sy) = view.basis.to_plane(mean)[0], view.basis.spread(std)
    ax, ay = view.axes
    st.markdown(_("q(z|x) = N(μ, σ²): μ = ({mx}, {my}), σ = ({sx}, {sy}) on {x_axis}, {y_axis}. The red ellipse on the "
                  "plane is μ ± 2σ: the codes the encoder thinks this {item} could have.").format(
                    mx=f"{mx:.2f}", my=f"{my:.2f}", sx=f"{sx:.2f}", sy=f"{sy:.2f}", x_axis=ax, y_axis=ay, item=item))
    neighbours = inference.nearest(encodings, mean, 8, exclude=index)
    st.image(plots.enlarge(plots.digit_rows(images[neighbours].numpy() / 255.0), 3),
             caption=_("Its 8 nearest neighbours in latent space, labelled {labels}.").format(
                 labels=_(", ").join(f"{names[labels[i]]} (#{i})" for i in neighbours)))
    return {"x": mx, "y": my, "rx": 2 * sx, "ry": 2 * sy}

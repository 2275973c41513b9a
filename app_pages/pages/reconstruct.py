"""/reconstruct: upload, draw or pick a digit (draw or pick a clothing item, for a Fashion-MNIST model);
see its 28×28 input, its reconstruction and its place in z."""

import numpy as np
import streamlit as st
from PIL import Image

from app_pages.common import page_header  # noqa: E402  (no torch: the title paints at once)
from app_pages.i18n import _, said  # noqa: E402

header = page_header(_("Reconstruct an image"))
st.caption(_("The encoder maps your digit (or clothing item) to a code z; the decoder draws it back from z alone. "
             "What survives the trip is what the two numbers of z can hold."))
placeholder = st.empty()
placeholder.caption(_("Loading the model…"))

import torch  # noqa: E402  (after the title: a cold start paints before torch has loaded)

from app_pages.common import Loaded, class_names, escape_as_code, item_word, page_model, pinned, shared_view  # noqa: E402
from app_pages.plane import PlaneData, PlaneExtras, latent_plane  # noqa: E402
from app_pages import explore, plots  # noqa: E402
from vae import inference  # noqa: E402
from vae.preprocess import ImageError, display_picture, fashion_item, mnist_digit, read_upload  # noqa: E402

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]


def show_reconstruction(loaded: Loaded, digit: np.ndarray, original: Image.Image | np.ndarray | None,
                        what: str) -> None:
    """Original | 28×28 input | reconstruction and what the classifier reads in the last two (`what` names
    the input: "your drawing"), then where its code sits among the test images, on the same two
    dimensions and with the same pinned point as the Latent page."""
    recon, mean = inference.reconstruct(loaded.model, torch.from_numpy(digit)[None])
    columns = st.columns(3)
    if original is not None:
        columns[0].image(display_picture(original), caption=_("your picture"), width=160)
    columns[1].image(plots.enlarge(digit, 6), caption=_("28×28 model input ({dataset} style)").format(
        dataset=loaded.dataset.title), width=160)
    columns[2].image(plots.enlarge(recon[0], 6), caption=_("reconstruction"), width=160)
    say_readings(loaded.dataset, explore.readings(np.stack([digit / 255.0, recon[0]]).astype(np.float32),
                                                  loaded.dataset.name), what)
    model = loaded.model
    images, labels = loaded.test_set()
    encodings = loaded.encodings()
    view = shared_view(model.latent_dim, encodings)
    points = view.basis.to_plane(encodings)
    z = mean[0]
    st.session_state.reconstruct_code = z.tolist()             # an endpoint for the Latent page's interpolation
    st.session_state.reconstruct_digit = np.asarray(digit, dtype=np.uint8).tolist()   # for the ELBO page
    st.session_state.reconstruct_of = {"model": loaded.key, "dataset": loaded.dataset.name}
    pin = pinned((loaded.key, view.key))
    axes, mark = view.axes, view.basis.to_plane(z)[0]
    st.subheader(_("Where its code lands"))
    where = _("Its code, the red cross: {x_axis} = {x}, {y_axis} = {y}").format(
        x_axis=axes[0], x=f"{mark[0]:.2f}", y_axis=axes[1], y=f"{mark[1]:.2f}")
    if model.latent_dim > 2:
        where = _("{where} (the Latent page's view of its {count} dimensions)").format(where=where,
                                                                                      count=model.latent_dim)
    st.caption(_("{where}. The black ring is the point pinned on the Latent page; move the pointer over the plane "
                 "to decode what lies around your {item}.").format(where=where, item=item_word(loaded.dataset)))
    latent_plane(key="plane_reconstruct", model=model, checkpoint_key=loaded.key, view=view,
                 data=PlaneData(points, labels, images, inference.plane_extent(points), loaded.dataset),
                 pin=pin.for_plane("plane_reconstruct"), extras=PlaneExtras(mark=mark))


def say_readings(dataset, reads: list[tuple[int, float]] | None, what: str) -> None:
    """What the shipped classifier reads in the input and in its reconstruction (`reads`, see
    app_pages.explore.readings), and plainly whether the trip through z kept it."""
    if reads is None:
        st.caption(_("The shipped classifier of {dataset}, which would say what this looks like, could not be "
                     "opened: make it with `python -m vae train-classifier --dataset {name}`.").format(
                       dataset=dataset.title, name=dataset.name))
        return
    (before, sure_before), (after, sure_after) = reads
    names = class_names(dataset)
    if before == after:
        st.caption(_("The classifier reads “{read}” in {what} ({sure} sure) and in the reconstruction ({sure_after} "
                     "sure): the trip through z kept what it shows.").format(
                       read=names[before], what=what, sure=f"{sure_before:.0%}", sure_after=f"{sure_after:.0%}"))
    else:
        st.warning(_("The classifier reads “{read}” in {what} ({sure} sure) but “{read_after}” in the reconstruction "
                     "({sure_after} sure): the trip through z changed what it shows.").format(
                       read=names[before], what=what, sure=f"{sure_before:.0%}", read_after=names[after],
                       sure_after=f"{sure_after:.0%}"), icon=":material/swap_horiz:")


def from_upload() -> tuple[np.ndarray, Image.Image, str] | None:
    file = st.file_uploader(_("A picture of one handwritten digit"), type=UPLOAD_TYPES, key="upload",
                            help=_("Any size; dark ink on light paper or light on dark; a phone photo works. "
                                   "It is cropped to the ink, scaled to 20×20 and centred in 28×28, as MNIST was."))
    if file is None:
        return None
    try:
        upload = read_upload(file.getvalue())
        digit = mnist_digit(upload.image)
    except ImageError as exc:
        st.error(f"{escape_as_code(file.name[:120])}: {said(exc)}")
        return None
    if upload.animated:
        st.info(_("This is an animated image: only its first frame is used."))
    return digit, upload.image, _("your picture")


def from_drawing() -> tuple[np.ndarray, None, str] | None:
    from streamlit_drawable_canvas import st_canvas   # a components-v2 element: importable only in a running app

    digits = loaded.dataset.uploads
    st.caption(_("Draw one digit large, filling most of the square. It is cropped and centred like an upload.")
               if digits else _("Draw one clothing item (a shirt, a trouser, a bag…) large, in light strokes: it is "
                                "trimmed and scaled to fill 28×28, as Fashion-MNIST's product photos were."))
    canvas = st_canvas(stroke_width=22, stroke_color="#ffffff", background_color="#000000", height=280,
                       width=280, drawing_mode="freedraw", return_image_data=True, key="canvas")
    strokes = canvas.image_data
    if strokes is None or strokes[..., :3].max() == 0:
        st.info(_("Draw {article} {item} in the black square to see its reconstruction.").format(
            article=loaded.dataset.article, item=item_word(loaded.dataset)))
        return None
    try:
        frame = mnist_digit if digits else fashion_item
        return frame(Image.fromarray(strokes.astype(np.uint8))), None, _("your drawing")
    except ImageError as exc:
        st.error(said(exc))
        return None


def from_test_set() -> tuple[np.ndarray, None, str]:
    images, labels = loaded.test_set()
    item = item_word(loaded.dataset)
    index = st.number_input(_("Test {item} index (0–9999)").format(item=item), min_value=0, max_value=len(images) - 1,
                            value=0, key="test_index")
    st.caption(_("Test {item} {index} is labelled **{label}**.").format(
        item=item, index=index, label=class_names(loaded.dataset)[labels[index]]))
    return images[index].numpy(), None, _("test {item} #{index}").format(item=item, index=index)


loaded = page_model(placeholder, header)
# The radio's values are its English words in every language (a switch keeps the choice); it shows them in the
# session's.
test_source = f"A test {loaded.dataset.item}"
sources = {"Upload a picture": from_upload, "Draw with the mouse": from_drawing, test_source: from_test_set}
source_names = {"Upload a picture": _("Upload a picture"), "Draw with the mouse": _("Draw with the mouse"),
                test_source: _("A test {item}").format(item=item_word(loaded.dataset))}
if not loaded.dataset.uploads:
    del sources["Upload a picture"]
    st.info(_("This model was trained on {dataset}, so it is offered test items and drawings. Uploads are for digit "
              "models: a photo is turned into an input the way MNIST's digits were made (cropped to the ink, 20×20, "
              "centred by mass). Fashion-MNIST was made from shop photos of single items on white, trimmed and "
              "inverted; a photo taken at home, with its background and light, rarely becomes an input the model "
              "has seen.").format(dataset=loaded.dataset.title), icon=":material/info:")
if st.session_state.get("source") not in sources:
    st.session_state.pop("source", None)                         # e.g. "A test digit" after switching to Fashion
source = st.radio(_("{item} from").format(item=item_word(loaded.dataset, "capital")), list(sources), horizontal=True,
                  key="source", format_func=source_names.get)
picked = sources[source]()
if picked is not None:
    show_reconstruction(loaded, *picked)

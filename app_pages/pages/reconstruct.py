"""/reconstruct: upload, draw or pick a digit (draw or pick a clothing item, for a Fashion-MNIST model);
see its 28×28 input, its reconstruction and its place in z."""

import numpy as np
import streamlit as st
from PIL import Image

from app_pages.common import page_header  # noqa: E402  (no torch: the title paints at once)

header = page_header("Reconstruct an image")
st.caption("The encoder maps your digit (or clothing item) to a code z; the decoder draws it back from z alone. "
           "What survives the trip is what the two numbers of z can hold.")
placeholder = st.empty()
placeholder.caption("Loading the model…")

import torch  # noqa: E402  (after the title: a cold start paints before torch has loaded)

from app_pages.common import Loaded, escape_as_code, page_model, pinned, shared_view  # noqa: E402
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
        columns[0].image(display_picture(original), caption="your picture", width=160)
    columns[1].image(plots.enlarge(digit, 6), caption=f"28×28 model input ({loaded.dataset.title} style)", width=160)
    columns[2].image(plots.enlarge(recon[0], 6), caption="reconstruction", width=160)
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
    st.subheader("Where its code lands")
    where = f"Its code, the red cross: {axes[0]} = {mark[0]:.2f}, {axes[1]} = {mark[1]:.2f}"
    shown = f" (the Latent page's view of its {model.latent_dim} dimensions)" if model.latent_dim > 2 else ""
    st.caption(where + shown + ". The black ring is the point pinned on the Latent page; move the pointer "
               f"over the plane to decode what lies around your {loaded.dataset.item}.")
    latent_plane(key="plane_reconstruct", model=model, checkpoint_key=loaded.key, view=view,
                 data=PlaneData(points, labels, images, inference.plane_extent(points), loaded.dataset),
                 pin=pin.for_plane("plane_reconstruct"), extras=PlaneExtras(mark=mark))


def say_readings(dataset, reads: list[tuple[int, float]] | None, what: str) -> None:
    """What the shipped classifier reads in the input and in its reconstruction (`reads`, see
    app_pages.explore.readings), and plainly whether the trip through z kept it."""
    if reads is None:
        st.caption(f"The shipped classifier of {dataset.title}, which would say what this looks like, could not be "
                   f"opened: make it with `python -m vae train-classifier --dataset {dataset.name}`.")
        return
    (before, sure_before), (after, sure_after) = reads
    names = dataset.class_names
    if before == after:
        st.caption(f"The classifier reads “{names[before]}” in {what} ({sure_before:.0%} sure) and in the "
                   f"reconstruction ({sure_after:.0%} sure): the trip through z kept what it shows.")
    else:
        st.warning(f"The classifier reads “{names[before]}” in {what} ({sure_before:.0%} sure) but "
                   f"“{names[after]}” in the reconstruction ({sure_after:.0%} sure): the trip through z "
                   "changed what it shows.", icon=":material/swap_horiz:")


def from_upload() -> tuple[np.ndarray, Image.Image, str] | None:
    file = st.file_uploader("A picture of one handwritten digit", type=UPLOAD_TYPES, key="upload",
                            help="Any size; dark ink on light paper or light on dark; a phone photo works. "
                                 "It is cropped to the ink, scaled to 20×20 and centred in 28×28, as MNIST was.")
    if file is None:
        return None
    try:
        upload = read_upload(file.getvalue())
        digit = mnist_digit(upload.image)
    except ImageError as exc:
        st.error(f"{escape_as_code(file.name[:120])}: {exc}")
        return None
    if upload.animated:
        st.info("This is an animated image: only its first frame is used.")
    return digit, upload.image, "your picture"


def from_drawing() -> tuple[np.ndarray, None, str] | None:
    from streamlit_drawable_canvas import st_canvas   # a components-v2 element: importable only in a running app

    digits = loaded.dataset.uploads
    st.caption("Draw one digit large, filling most of the square. It is cropped and centred like an upload."
               if digits else "Draw one clothing item (a shirt, a trouser, a bag…) large, in light strokes: it is "
               "trimmed and scaled to fill 28×28, as Fashion-MNIST's product photos were.")
    canvas = st_canvas(stroke_width=22, stroke_color="#ffffff", background_color="#000000", height=280,
                       width=280, drawing_mode="freedraw", return_image_data=True, key="canvas")
    strokes = canvas.image_data
    if strokes is None or strokes[..., :3].max() == 0:
        st.info(f"Draw {loaded.dataset.article} {loaded.dataset.item} in the black square to see its reconstruction.")
        return None
    try:
        frame = mnist_digit if digits else fashion_item
        return frame(Image.fromarray(strokes.astype(np.uint8))), None, "your drawing"
    except ImageError as exc:
        st.error(str(exc))
        return None


def from_test_set() -> tuple[np.ndarray, None, str]:
    images, labels = loaded.test_set()
    item = loaded.dataset.item
    index = st.number_input(f"Test {item} index (0–9999)", min_value=0, max_value=len(images) - 1, value=0,
                            key="test_index")
    st.caption(f"Test {item} {index} is labelled **{loaded.dataset.class_names[labels[index]]}**.")
    return images[index].numpy(), None, f"test {item} #{index}"


loaded = page_model(placeholder, header)
item = loaded.dataset.item
sources = {"Upload a picture": from_upload, "Draw with the mouse": from_drawing, f"A test {item}": from_test_set}
if not loaded.dataset.uploads:
    del sources["Upload a picture"]
    st.info(f"This model was trained on {loaded.dataset.title}, so it is offered test items and drawings. Uploads "
            "are for digit models: a photo is turned into an input the way MNIST's digits were made (cropped to "
            "the ink, 20×20, centred by mass). Fashion-MNIST was made from shop photos of single items on white, "
            "trimmed and inverted; a photo taken at home, with its background and light, rarely becomes an "
            "input the model has seen.", icon=":material/info:")
if st.session_state.get("source") not in sources:
    st.session_state.pop("source", None)                         # e.g. "A test digit" after switching to Fashion
source = st.radio(f"{item.capitalize()} from", list(sources), horizontal=True, key="source")
picked = sources[source]()
if picked is not None:
    show_reconstruction(loaded, *picked)

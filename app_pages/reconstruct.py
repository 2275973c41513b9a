"""/reconstruct: upload, draw or pick a digit; see its 28×28 input, its reconstruction and its place in z."""
import numpy as np
import streamlit as st
import torch
from PIL import Image

from app_pages.common import Loaded, encoded_test_set, selected_model, test_set
from vae import inference, plots
from vae.preprocess import ImageError, mnist_digit, read_upload

UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]


def show_reconstruction(loaded: Loaded, digit: np.ndarray, original: Image.Image | np.ndarray | None) -> None:
    """Original | 28×28 input | reconstruction | where its code sits among the test digits."""
    recon, mean = inference.reconstruct(loaded.model, torch.from_numpy(digit)[None])
    columns = st.columns([1, 1, 1, 1.7])
    if original is not None:
        columns[0].image(original, caption="your picture", width=160)
    columns[1].image(plots.enlarge(digit, 6), caption="28×28 model input (MNIST style)", width=160)
    columns[2].image(plots.enlarge(recon[0], 6), caption="reconstruction", width=160)
    z = mean[0]
    points = encoded_test_set(loaded.model, loaded.key)[:, :2]
    figure = plots.latent_plane(points, test_set()[1], plots.plane_extent(points), marked=(z[0], z[1]),
                                clickable=False, height=280, marker_size=3)
    figure.update_layout(showlegend=False)
    columns[3].plotly_chart(figure, config={"displayModeBar": False})
    where = f"Its code z = ({z[0]:.2f}, {z[1]:.2f}), the cross, among the test digits"
    dims = loaded.model.latent_dim
    columns[3].caption(where + (f" (z0 and z1 of {dims} dimensions)." if dims > 2 else "."))


def from_upload() -> tuple[np.ndarray, Image.Image] | None:
    file = st.file_uploader("A picture of one handwritten digit", type=UPLOAD_TYPES, key="upload",
                            help="Any size; dark ink on light paper or light on dark; a phone photo works. "
                                 "It is cropped to the ink, scaled to 20×20 and centred in 28×28, as MNIST was.")
    if file is None:
        return None
    try:
        upload = read_upload(file.getvalue())
        digit = mnist_digit(upload.image)
    except ImageError as exc:
        st.error(f"{file.name}: {exc}")
        return None
    if upload.animated:
        st.info("This is an animated image: only its first frame is used.")
    return digit, upload.image


def from_drawing() -> tuple[np.ndarray, np.ndarray] | None:
    from streamlit_drawable_canvas import st_canvas   # a components-v2 element: importable only in a running app

    st.caption("Draw one digit large, filling most of the square. It is cropped and centred like an upload.")
    canvas = st_canvas(stroke_width=22, stroke_color="#ffffff", background_color="#000000", height=280,
                       width=280, drawing_mode="freedraw", return_image_data=True, key="canvas")
    strokes = canvas.image_data
    if strokes is None or strokes[..., :3].max() == 0:
        st.info("Draw a digit in the black square to see its reconstruction.")
        return None
    try:
        return mnist_digit(Image.fromarray(strokes.astype(np.uint8))), None
    except ImageError as exc:
        st.error(str(exc))
        return None


def from_test_set() -> tuple[np.ndarray, None]:
    images, labels = test_set()
    index = st.number_input("Test digit index (0–9999)", min_value=0, max_value=len(images) - 1, value=0,
                            key="test_index")
    st.caption(f"Test digit {index} is labelled **{labels[index]}**.")
    return images[index].numpy(), None


st.title("Reconstruct a digit")
st.caption("The encoder maps your digit to a code z; the decoder draws it back from z alone. "
           "What survives the trip is what the two numbers of z can hold.")
loaded = selected_model()
if loaded is None:
    st.stop()
source = st.radio("Digit from", ["Upload a picture", "Draw with the mouse", "A test digit"], horizontal=True,
                  key="source")
picked = {"Upload a picture": from_upload, "Draw with the mouse": from_drawing, "A test digit": from_test_set}[source]()
if picked is not None:
    show_reconstruction(loaded, *picked)

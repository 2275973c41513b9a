"""/latent: the encoded test set on the latent plane; click anywhere to decode that point."""
import numpy as np
import streamlit as st

from app_pages.common import encoded_test_set, plane_dims, selected_model, test_set
from vae import inference, plots

st.title("The latent plane")
st.caption("Each dot is one of the 10,000 MNIST test digits, placed at the mean of its encoding q(z|x). "
           "Click anywhere on the plane, on a dot or between dots, to see what the decoder draws there "
           "(the black dot marks it).")

loaded = selected_model()
if loaded is None:
    st.stop()
model = loaded.model
dims = plane_dims(model.latent_dim)
points = encoded_test_set(model, loaded.key)[:, dims]           # (10000, 2)
labels = test_set()[1]
extent = plots.plane_extent(points)
axis_titles = (f"z{dims[0]}", f"z{dims[1]}")


def take_click() -> None:
    """A click on the plane (the invisible lattice or a dot) becomes the point to decode."""
    clicked = st.session_state["plane"].selection.points
    if clicked:
        st.session_state.z = (round(float(clicked[0]["x"]), 3), round(float(clicked[0]["y"]), 3))


@st.cache_resource(max_entries=8, show_spinner=False)
def clickable_plane(checkpoint_key: tuple, dims, _points, _labels, extent, axis_titles):
    """The plane, identical on every click: built once per model and view, never mutated."""
    start, _ = plots.nearest_lattice_point(extent, (0.0, 0.0))      # the prior's mean
    return plots.latent_plane(_points, _labels, extent, selected=start, axis_titles=axis_titles)


@st.fragment
def plane_and_decoding(points: np.ndarray, labels: np.ndarray, extent, dims) -> None:
    """Re-runs alone on a click: one decode and an unchanged figure, not the whole page."""
    chart, decoded = st.columns([3, 2], gap="large")
    with chart:
        st.plotly_chart(clickable_plane(loaded.key, dims, points, labels, extent, axis_titles), key="plane",
                        on_select=take_click, selection_mode="points", config={"displayModeBar": False})
    with decoded:
        x, y = st.session_state.z
        st.subheader("Decoded point")
        st.markdown(f"{axis_titles[0]} = **{x:.3f}**, {axis_titles[1]} = **{y:.3f}**")
        image = inference.decode_points(model, inference.embed_2d(model, [[x, y]], dims))[0]
        st.image(plots.enlarge(image, 10), width=280,
                 caption="The decoder's output p(x | z): brightness is the probability of ink at each pixel.")


@st.cache_data(max_entries=16, show_spinner="Decoding the grid…")
def manifold(_model, checkpoint_key: tuple, n: int, extent, dims) -> np.ndarray:
    return inference.latent_grid(_model, n, extent, dims=dims)


start = plots.nearest_lattice_point(extent, (0.0, 0.0))[1]
if "plane" not in st.session_state or st.session_state.get("plane_view") != (loaded.key, dims):
    st.session_state.plane_view = (loaded.key, dims)
    st.session_state.z = start            # a freshly drawn plane marks its start point, so decode that
plane_and_decoding(points, labels, extent, dims)

st.subheader("The learned manifold")
n = st.slider("Digits per side", min_value=10, max_value=30, value=20,
              help="Decodes an n×n lattice of evenly spaced points spanning the plane above, edge to edge.")
st.image(manifold(model, loaded.key, n, extent, dims), width=620,
         caption=f"Decoded over the plotted extent: {axis_titles[0]} from {extent[0]:g} (left) to {extent[1]:g} "
                 f"(right), {axis_titles[1]} from {extent[2]:g} (bottom) to {extent[3]:g} (top), "
                 "as in Kingma & Welling (2014), figure 4.")

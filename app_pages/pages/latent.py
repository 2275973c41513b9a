"""/latent: the encoded test set on the latent plane. The browser decodes under the pointer; a click,
tap or arrow key pins a point, which this page shows large and keeps in the URL."""
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.common import model_picker, page_header  # noqa: E402  (no torch: the title paints at once)

from app_pages.layout import latent_layout, loading  # noqa: E402
from app_pages.i18n import N_, _  # noqa: E402

header = page_header(_("The latent plane"))
waiting = header.empty()                                         # while the menu reads the models (torch: seconds, cold)
waiting.caption(_("Loading the model and the test images…"))
model_picker(header)                                             # before the layout: on a phone it wraps under the title
waiting.empty()
placeholder, plane_column, companions = latent_layout()          # the plane, and beside it (under it when narrow)…
loading(placeholder, _("Loading the model and the test images…"))

from app_pages.common import (class_names, held_from_link, held_in_url, held_view, hold_sliders_at,  # noqa: E402
                               opened_model, pinned, plane_view, replay_view, take_held)
from app_pages import explore  # noqa: E402
from app_pages.plane import (PlaneData, PlaneExtras, decoder_failed, decoder_map_payload,  # noqa: E402
                             home_square, latent_plane, opening_view, snap_square, track_view,
                             visible_square)
from app_pages import plots  # noqa: E402
from app_pages.state import first_visit_param, publish  # noqa: E402
from vae import inference  # noqa: E402


def sliders_to_image(encodings, model_key, view) -> None:
    """The number field's callback: the sliders' point (pin and origin) to the chosen test image's code."""
    index = st.session_state.slider_image
    if index is not None:
        hold_sliders_at(encodings[index], model_key, view)


loaded = opened_model(placeholder)
model = loaded.model
images, labels = loaded.test_set()
encodings = loaded.encodings()                                   # (10000, latent_dim)
with companions:                                                 # …what the plane shows and draws on
    st.caption(_("Each dot is one of the 10,000 test images (MNIST digits or Fashion-MNIST items, as the model "
                 "was trained), placed at the mean of its encoding q(z|x). The decoder, in your browser, draws "
                 "the point under the pointer; click or tap to pin it. The link in the address bar keeps this "
                 "model, point, view and tab: reload it or share it to come back here."))
    view = plane_view(model.latent_dim, encodings)
    sliders = None
    if model.latent_dim > 2:                                     # one slider per dimension, in the plane's element
        sliders = {"kl": loaded.dimension_kl()}
        held_from_link(loaded.key, view)
        st.number_input(_("Set the sliders to test image #"), 0, len(encodings) - 1, value=None, key="slider_image",
                        on_change=sliders_to_image, args=(encodings, loaded.key, view),
                        help=_("The sliders under the plane, and the pin, go to this test image's code, the mean of "
                               "q(z|x); the plane is then decoded around it."))
points = view.basis.to_plane(encodings)                          # (10000, 2)
base_view, view = view, held_view(view, loaded.key)              # the origin as the sliders left it
extent = inference.plane_extent(points)
axes = view.axes
pin = pinned((loaded.key, view.key))

if first_visit_param("map") == "1":
    st.session_state.decoder_map = True
spacing_wanted = first_visit_param("spacing")
if spacing_wanted in ("linear", "gaussian"):
    st.session_state.spacing = spacing_wanted
model_path = Path(loaded.key[0])
model_name = model_path.parent.name if model_path.stem == "checkpoint" else model_path.stem   # a run's, or the file's
export_words = explore.explorer_words(loaded.dataset, view, encodings)   # in the session's language, while it runs


def explorer_file() -> bytes:
    """This model and view as one HTML file that opens anywhere with no server (vae.export); built
    when the button is pressed, not on every run."""
    from vae.export import explorer_html

    return explorer_html(model, loaded.meta, name=model_name, images=np.asarray(images), labels=np.asarray(labels),
                         points=points, basis=view.basis, axes=axes, dataset=loaded.dataset, **export_words).content


# The companions: one open at a time, beside the plane (only the open tab's code runs). A tab is named in
# the link and the session by its English name, and shown in the session's language (TAB_NAMES).
run_folder = Path(loaded.key[0]).parent                          # a training run's model has its replay there
TAB_NAMES = {"Manifold": N_("Manifold"), "Sample": N_("Sample"), "Interpolate": N_("Interpolate"),
             "A dot's story": N_("A dot's story"), "Training replay": N_("Training replay")}
TABS = ["Manifold", "Sample", "Interpolate", "A dot's story"]
TABS += ["Training replay"] if (run_folder / "replay" / "index.json").is_file() else []
shown_tabs = [_(TAB_NAMES[tab]) for tab in TABS]
wanted_tab = first_visit_param("tab")
if wanted_tab is not None and wanted_tab in TABS:
    st.session_state.open_tab = wanted_tab
if st.session_state.get("open_tab") not in TABS:
    st.session_state.open_tab = TABS[0]
overlays, manifold = {}, None
PIN_TABS = ("Interpolate", "A dot's story")                      # companions that start from the pinned point
st.session_state.companions_pin = pin.xy
with companions:
    map_on = st.toggle(_("Decoder's map"), key="decoder_map", persist_state="session",
                       help=_("Colour the plane's background by what the shipped classifier reads in the decoding "
                              "of each point: the hue is the class, the depth its confidence. 100×100 points of the "
                              "visible square, computed on the server again after each zoom or pan."))
    if st.session_state.get("explore_tab") not in shown_tabs:  # after a page change, a link or a new language:
        st.session_state.explore_tab = shown_tabs[TABS.index(st.session_state.open_tab)]   # the kept tab
    tabs = st.tabs(shown_tabs, key="explore_tab", on_change="rerun")   # (a changing default= would make new tabs)
    st.session_state.open_tab = TABS[shown_tabs.index(st.session_state.explore_tab)]
    manifold_tab, sampling, path, story, *replaying = tabs
    if manifold_tab.open:
        with manifold_tab:
            spacing = st.radio(
                _("Spacing"), ["linear", "gaussian"], horizontal=True, key="spacing", persist_state="session",
                format_func={"linear": _("even in z"), "gaussian": _("even in probability (inverse CDF)")}.get,
                help=_("Even in z: tiles evenly spaced over the visible square. Even in probability: tiles at the "
                       "N(0, 1) quantiles of the visible square, so each covers the same prior mass, as in Kingma & "
                       "Welling (2014), figure 4. Both follow the plane's zoom."))
            tiles = st.slider(_("Images per side"), min_value=10, max_value=30, value=20, key="tiles",
                              persist_state="session")
            st.caption(_("The grid of decodings is drawn beside the plane, under the preview, and follows every "
                         "zoom and pan; click a tile to pin its point."))
            manifold = {"n": tiles, "spacing": spacing}
    if sampling.open:
        with sampling:
            overlays["points"] = explore.prior_samples(model, view)
    if path.open:
        with path:
            overlays["path"] = explore.interpolation(model, view, view.basis.to_latent([pin.xy])[0], encodings,
                                                     loaded.dataset, loaded.key)
    if story.open:
        with story:
            overlays["ellipse"] = explore.dot_story(model, view, pin.xy, encodings, points, images, labels,
                                                    loaded.dataset)
    if replaying and replaying[0].open:
        with replaying[0]:
            st.caption(_("This model's training run saved the test images' encodings as it trained: the plane "
                         "at each snapshot (z0 and z1), before training, during the first epoch and at each epoch "
                         "end."))
            replay_view(run_folder, heading=False)
    st.download_button(_("Download this explorer"), data=explorer_file, mime="text/html", icon=":material/download:",
                       file_name=f"{model_name}-latent-explorer.html", on_click="ignore",
                       help=_("One HTML file with this model's plane, its decoder and the test images: it opens "
                              "from disk or a web page in any current browser, with no server and no network (about "
                              "5 MB). The same as `python -m vae export-html`."))

shown = opening_view("plane", (loaded.key, view.key), extent)   # the zoom a newly drawn plane opens on
MAP_CELLS = 100                                                  # the decoder's map: a 100×100 lattice


@st.fragment
def plane_and_pin() -> None:
    """Reruns alone when a point is pinned or the view moves: the plane element is unchanged, the pin's
    line and the link update."""
    if st.session_state.open_tab in PIN_TABS and pin.xy != st.session_state.companions_pin:
        st.rerun(scope="app")                                    # a new pin: the open companion starts from it
    failed = decoder_failed("plane")
    shown_view = view
    if sliders:                                                  # a slider moved the origin: this run draws around it
        take_held("plane", loaded.key, base_view)
        shown_view = held_view(base_view, loaded.key)
        held_in_url(shown_view, base_view)
    track_view("plane", (loaded.key, view.key), extent)          # a zoom or pan reruns this fragment: to the URL
    decoder_map = None
    if map_on:
        reader = explore.classifier(loaded.dataset.name)
        if reader is None:
            st.info(_("The decoder's map needs the shipped classifier of {dataset}, which could not be opened: make "
                      "it with `python -m vae train-classifier --dataset {name}`.").format(
                        dataset=loaded.dataset.title, name=loaded.dataset.name))
        else:
            square = snap_square(visible_square("plane") or home_square(extent))
            held = tuple(round(float(v), 6) for v in shown_view.basis.origin)
            decoder_map = decoder_map_payload(model, reader, shown_view.basis, loaded.key, (view.key, held), square, MAP_CELLS,
                                              class_names(loaded.dataset))
    x, y = pin.xy
    image = inference.decode_points(model, shown_view.basis.to_latent([[x, y]]))[0] if failed else None
    latent_plane(key="plane", model=model, checkpoint_key=loaded.key, view=shown_view,
                 data=PlaneData(points, labels, images, extent, loaded.dataset),
                 pin=pin.for_plane("plane", image=plots.enlarge(image, 1) if failed else None),
                 extras=PlaneExtras(manifold=manifold, overlays=overlays, decoder_map=decoder_map, sliders=sliders),
                 shown=shown)
    st.markdown(_("Pinned point: {x_axis} = **{x}**, {y_axis} = **{y}**").format(x_axis=axes[0], x=f"{x:.3f}",
                                                                                 y_axis=axes[1], y=f"{y:.3f}"))
    publish(map="1" if map_on else None, spacing=None if st.session_state.get("spacing", "linear") == "linear"
            else st.session_state.spacing, tab=None if st.session_state.open_tab == TABS[0] else st.session_state.open_tab)
    if failed:
        st.image(plots.enlarge(image, 8), width=224, caption=_("The decoder's output p(x | z) at the pinned point, "
                                                               "decoded on the server."))
        st.subheader(_("The learned manifold (decoded on the server)"))
        st.image(inference.latent_grid(model, shown_view.basis, tiles if manifold else 20, extent),
                 width=min(28 * (tiles if manifold else 20), 560),
                 caption=_("Evenly spaced over the plotted extent, {x_axis} from {left} to {right}, {y_axis} from "
                           "{bottom} (bottom) to {top} (top).").format(
                     x_axis=axes[0], left=f"{extent[0]:g}", right=f"{extent[1]:g}", y_axis=axes[1],
                     bottom=f"{extent[2]:g}", top=f"{extent[3]:g}"))


with plane_column:
    plane_and_pin()

"""The explorer's state that follows the user from page to page, and the link that carries it.

One state: the model, the pinned z, the two dimensions or PCA, the plane's view (centre and zoom), the
decoder's map, the manifold's spacing, the open companion tab and the language (app_pages.i18n). It lives in st.session_state, where
the widgets that set it keep it across page changes (persist_state="session"), and every run writes
all of it to the URL (publish), so that a sidebar page change, Home's links, a reload and a pasted
link all show the same model and view.

The URL a session arrived with is read once, on its first run, whatever page that is (arrival): a
link to /train?model=…&z=… keeps its z for the Latent page visited later, although Streamlit drops
the query string on a page change.
"""
from __future__ import annotations

import math

import streamlit as st

PARAMS = ("model", "z", "origin", "dims", "view", "map", "spacing", "tab", "lang")   # the link's parameters, in order
VIEW_LIMITS = (1e4, 1e-3, 1e3)          # |centre| and the half-width range of a view (vae/web/view.js)


def arrived() -> dict:
    """The query parameters of the URL this session arrived with (its first run), read once."""
    if "arrival_params" not in st.session_state:
        st.session_state.arrival_params = {name: st.query_params.get(name) for name in st.query_params}
    return st.session_state.arrival_params


def first_visit_param(name: str) -> str | None:
    """?name= from the URL the session arrived with, handed out once; later the URL follows the state."""
    read = st.session_state.setdefault("url_params_read", set())
    if name in read:
        return None
    read.add(name)
    return arrived().get(name)


def parse_view(text: str | None) -> tuple[float, float, float] | None:
    """"cx,cy,half" (a link's view) -> (cx, cy, half), or None unless three finite numbers in range."""
    if not text or len(text) > 100:
        return None
    try:
        cx, cy, half = (float(part) for part in text.split(","))
    except ValueError:
        return None
    bound, smallest, largest = VIEW_LIMITS
    if not all(math.isfinite(v) for v in (cx, cy, half)) or max(abs(cx), abs(cy)) > bound:
        return None
    return (cx, cy, half) if smallest <= half <= largest else None


def view_text(view: tuple[float, float, float]) -> str:
    """(cx, cy, half) as the link writes it: six significant digits each (vae/web/view.js toString)."""
    return ",".join(f"{v:.6g}" for v in view)


def remember_view(view_key: tuple, view: tuple[float, float, float] | None) -> None:
    """The plane of `view_key` now shows `view` (the browser said so, or a link did)."""
    if view is not None:
        st.session_state.setdefault("plane_views", {})[view_key] = view
        st.session_state.current_view = (view_key, view)


def known_view(view_key: tuple) -> tuple[float, float, float] | None:
    """The last view of the plane `view_key` in this session (zoom and centre), if any."""
    return st.session_state.get("plane_views", {}).get(view_key)


def publish(**values) -> None:
    """Write the whole state to the URL: `values` (name -> text, None to leave it out) over what the
    session holds; a parameter of the arrival link that no page has read yet stays. Written only when
    it changed, so that a rerun sends the browser nothing."""
    held = st.session_state.setdefault("url_state", {})
    held.update(values)
    arrival, read = arrived(), st.session_state.get("url_params_read", set())
    wanted = {}
    for name in PARAMS:
        value = held.get(name)
        if value is None and name not in read and name not in held:
            value = arrival.get(name)
        if value is not None:
            wanted[name] = value
    if {name: st.query_params.get(name) for name in st.query_params} != wanted:
        st.query_params.from_dict(wanted)

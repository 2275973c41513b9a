"""The Latent page's layout: the plane as the page's centre, its companions beside it.

Streamlit places elements in flex containers and names a keyed one with the class st-key-<key>; the
rules below size those by the window, which Python does not know:
- the plane's column asks for the plane as tall as the window allows (the window's height less the
  header and title above it) plus the preview's side column (vae/web/plane.css, plane.js layout());
- the companions' column (the controls and the open tab) sits beside it when both fit, which is from
  about 1,600 px of width on a 1080 px tall screen, and under it otherwise;
- the plane's column keeps its height reserved before the plane's script has drawn, so that nothing
  below or beside it moves when it arrives (cumulative layout shift, bench/browser_plane.py).
"""
import streamlit as st

PAGE_TOP = 165           # px above the plane: Streamlit's header, the page's top padding and its title
SIDE = 300               # px the plane's own side column (preview, nearest dot, manifold) needs at least

# Each keyed block sits in a layout wrapper, the flex item of the row: the rules size the wrappers.
PLANE, COMPANIONS = ('[data-testid="stLayoutWrapper"]:has(> .st-key-latent_plane)',
                     '[data-testid="stLayoutWrapper"]:has(> .st-key-latent_companions)')
STYLE = f"""<style>
.st-key-latent_layout {{ flex-wrap: wrap; align-items: flex-start; }}
{PLANE} {{ flex: 1 1 calc(100svh - {PAGE_TOP}px + {SIDE + 12}px); min-width: min(100%, 320px);
          min-height: min(calc(100svh - {PAGE_TOP}px), 100vw); }}
{COMPANIONS} {{ flex: 1 1 420px; max-width: 640px; min-width: min(100%, 300px); }}
.st-key-latent_plane, .st-key-latent_companions {{ width: 100%; }}
</style>"""


def latent_style() -> None:
    """The rules, first thing on the page: a style that came with the blocks it sizes would apply a
    frame after them, and move them."""
    st.html(STYLE)


def latent_layout():
    """(plane column, companions column) of the Latent page, in this order on the page (latent_style
    must have run)."""
    row = st.container(horizontal=True, gap="medium", key="latent_layout")
    return row.container(key="latent_plane"), row.container(key="latent_companions")

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
PLANE_COLUMN = 1230      # px: the plane at 900+ on a 1080 px screen and its side column; all of a smaller page
PIN_LINE = 40           # px under the plane: the pinned point's line
UNDER = 360             # px on a narrow screen, besides the plane and the manifold (each as wide as the page):
                        # the legend's row, the preview's block, the manifold's caption, the pinned point's line
PHONE_HEADER = 239      # px of the title and, under it, the model menu and its caption on a phone
SIDE = 300               # px the plane's own side column (preview, nearest dot, manifold) needs at least

# Each keyed block sits in a layout wrapper, the flex item of the row: the rules size the wrappers.
PLANE, COMPANIONS = ('[data-testid="stLayoutWrapper"]:has(> .st-key-latent_plane)',
                     '[data-testid="stLayoutWrapper"]:has(> .st-key-latent_companions)')
STYLE = f"""<style>
.st-key-latent_layout {{ flex-wrap: wrap; align-items: flex-start; }}
{PLANE} {{ min-height: calc(min(100svh - {PAGE_TOP + 6}px, 100vw - {160 + SIDE - 28}px) + {PIN_LINE}px); }}
@media (max-width: 860px) {{ {PLANE} {{ min-height: calc(2 * (100vw - 32px) + {UNDER}px); }} }}
@media (max-width: 640px) {{ .st-key-page_header {{ min-height: {PHONE_HEADER}px; }} }}
.st-key-latent_plane, .st-key-latent_companions {{ width: 100%; }}
</style>"""


def latent_layout():
    """(plane column, companions column) of the Latent page, in this order on the page; STYLE must be
    on the page first (common.page_header)."""
    row = st.container(horizontal=True, gap="medium", key="latent_layout")
    return row.container(key="latent_plane", width=PLANE_COLUMN), row.container(key="latent_companions")

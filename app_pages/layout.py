"""The Latent page's layout: the plane as the page's centre, its companions beside it.

Streamlit places elements in flex containers and names a keyed one with the class st-key-<key>:
- the plane's column is at most PLANE_COLUMN px wide (Streamlit's own width, no style needed): the
  plane as tall as the window allows (plane.js layout()) plus its side column (vae/web/plane.css);
- the companions' column (the controls and the open tab) sits beside it where both fit, from about
  1,650 px of width, and under it otherwise (the row wraps);
- the plane's column keeps its height reserved before the plane's script has drawn, so that nothing
  below or beside it moves when it arrives (cumulative layout shift, bench/browser_plane.py).
"""
import streamlit as st

PAGE_TOP = 165           # px above the plane: Streamlit's header, the page's top padding and its title
PLANE_COLUMN = 1230      # px: the plane at 900+ on a 1080 px screen and its side column; all of a smaller page
PIN_LINE = 40           # px under the plane: the pinned point's line
UNDER = 360             # px on a narrow screen, besides the plane and the manifold (each as wide as the page):
                        # the legend's row, the preview's block, the manifold's caption, the pinned point's line
SIDE = 300               # px the plane's own side column (preview, nearest dot, manifold) needs at least

WIDE_RESERVE = f"calc(min(100svh - {PAGE_TOP + 6}px, 100vw - {160 + SIDE - 28}px) + {PIN_LINE}px)"
NARROW_RESERVE = f"calc(2 * (100vw - 32px) + {UNDER}px)"

# Each keyed block sits in a layout wrapper, the flex item of the row: the rules size the wrappers.
PLANE = '[data-testid="stLayoutWrapper"]:has(> .st-key-latent_plane)'
STYLE = f"""<style>
[data-testid="stElementContainer"]:has(> * style) {{ display: none; }}   /* this style's own element: no room */
.st-key-latent_layout {{ flex-wrap: wrap; align-items: flex-start; }}
{PLANE} {{ min-height: {WIDE_RESERVE}; }}
@media (max-width: 860px) {{ {PLANE} {{ min-height: {NARROW_RESERVE}; }} }}
.st-key-latent_plane, .st-key-latent_companions {{ width: 100%; }}
</style>"""


def loading(placeholder, text: str) -> None:
    """`text` in `placeholder`, the plane's column's first element, as tall as the plane will be: the
    reserve holds from the first paint, before STYLE's rule applies (a few frames later)."""
    # An inline style has no @media: below 860 px (860px - 100vw) * 1000 is huge and picks the narrow reserve.
    reserve = f"max({WIDE_RESERVE}, min({NARROW_RESERVE}, (860px - 100vw) * 1000))"
    placeholder.markdown(f'<div style="min-height: {reserve}">{text}</div>', unsafe_allow_html=True)


def latent_layout():
    """(plane column, companions column) of the Latent page, in this order on the page; STYLE must be
    on the page first (common.page_header)."""
    row = st.container(horizontal=True, gap="medium", key="latent_layout")
    return row.container(key="latent_plane", width=PLANE_COLUMN), row.container(key="latent_companions")

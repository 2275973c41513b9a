"""The Latent page's layout: the plane as the page's centre, its companions beside it.

Streamlit places elements in flex containers and names a keyed one with the class st-key-<key>:
- the plane's column is at most PLANE_COLUMN px wide (Streamlit's own width, no style needed): the
  plane as tall as the window allows (plane.js layout()) plus its side column (vae/web/plane.css);
- the companions' column (the controls and the open tab) sits beside it where both fit, from about
  1,650 px of width, and under it otherwise (the row wraps);
- the plane's column keeps its height reserved before the plane's script has drawn, so that nothing
  below or beside it moves when it arrives (cumulative layout shift, bench/browser_plane.py): first
  the loading line's inline height (loading), and under the plane's slot SPACER's room, a plain
  element that Streamlit paints with the first ones, so that what wraps under the plane is first
  painted below the fold. STYLE (Markdown, which Streamlit paints some frames after plain elements,
  and the plane's script later still) then hides the spacer and reserves the plane's height; it sits
  inside the spacer, so its own element moves nothing either.
- the model menu is drawn before this layout, so that on a phone, where it wraps under the title, its
  arrival moves nothing under it.
"""
import time

import streamlit as st

PAGE_TOP = 165           # px above the plane: Streamlit's header, the page's top padding and its title
PLANE_COLUMN = 1230      # px: the plane at 900+ on a 1080 px screen and its side column; all of a smaller page
PIN_LINE = 40           # px under the plane: the pinned point's line
UNDER = 360             # px on a narrow screen, besides the plane and the manifold (each as wide as the page):
                        # the legend's row, the preview's block, the manifold's caption, the pinned point's line
SPACER = 2400           # px held under the plane's slot until STYLE applies: what wraps under the plane is first
                        # painted below the fold, and the reserve's arrival moves nothing on screen
SIDE = 300               # px the plane's own side column (preview, nearest dot, manifold) needs at least

WIDE_PLANE = f"min(100svh - {PAGE_TOP + 6}px, 100vw - {160 + SIDE - 28}px)"
NARROW_PLANE = f"2 * (100vw - 32px) + {UNDER - PIN_LINE}px"
WIDE_RESERVE = f"calc({WIDE_PLANE} + {PIN_LINE}px)"
NARROW_RESERVE = f"calc({NARROW_PLANE} + {PIN_LINE}px)"
# An inline style has no @media: below 860 px, (860px - 100vw) * 1000 is huge and picks the narrow height.
PLANE_RESERVE = f"max({WIDE_PLANE}, min({NARROW_PLANE}, (860px - 100vw) * 1000))"   # the plane alone

# Each keyed block sits in a layout wrapper, the flex item of the row: the rules size the wrappers.
PLANE = '[data-testid="stLayoutWrapper"]:has(> .st-key-latent_plane)'
STYLE = f"""<style>
.st-key-latent_layout {{ flex-wrap: wrap; align-items: flex-start; }}
{PLANE} {{ min-height: {WIDE_RESERVE}; }}
@media (max-width: 860px) {{ {PLANE} {{ min-height: {NARROW_RESERVE}; }} }}
.st-key-latent_plane, .st-key-latent_companions {{ width: 100%; }}
[data-testid="stLayoutWrapper"]:has(> .st-key-latent_spacer), .st-key-latent_spacer {{ display: none; }}
</style>"""


FRAME_FIRST = 0.15      # s: the wide layout's message goes alone, a frame before any element (wide_frame_first)


def wide_frame_first() -> None:
    """On a session's first run, let the page config (layout="wide") reach the browser before any element.

    Streamlit's frame opens centred, 736 px wide, with a loading skeleton. When the wide layout arrives
    in the same frame as the page's first elements, Chrome counts all of them as shifted sideways
    (cumulative layout shift 0.16 to 0.31 on /latent). Sent alone, only the skeleton moves, as in a bare
    wide Streamlit app (0.06 to 0.07; bench/browser_plane.py). Later runs keep the frame: no pause."""
    if "wide_frame_sent" not in st.session_state:
        st.session_state.wide_frame_sent = True
        time.sleep(FRAME_FIRST)


def loading(placeholder, text: str) -> None:
    """`text` in `placeholder`, the plane's column's first element, as tall as the plane and its pin
    line will be: the reserve holds from the first paint, before STYLE's rule applies."""
    placeholder.markdown(f'<div style="min-height: calc({PLANE_RESERVE} + {PIN_LINE}px)">{text}</div>',
                         unsafe_allow_html=True)


def latent_layout():
    """(loading placeholder, the plane's slot, companions) of the Latent page: the first two in the plane's
    column, over SPACER's room (which STYLE hides); the companions beside the column, or under it."""
    row = st.container(horizontal=True, gap="medium", key="latent_layout")
    plane_column, companions = row.container(key="latent_plane", width=PLANE_COLUMN), row.container(key="latent_companions")
    placeholder, plane = plane_column.empty(), plane_column.container()
    spacer = plane_column.container(key="latent_spacer", width=1)   # 1 px wide: its own moves shift no area
    spacer.space(SPACER)
    spacer.markdown(STYLE, unsafe_allow_html=True)       # hidden with the spacer: its own element moves nothing
    return placeholder, plane, companions

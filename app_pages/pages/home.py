"""The landing page: what this is and where to start."""
from pathlib import Path

import streamlit as st

from app_pages.common import model_picker, page_header
from app_pages.i18n import _

header = page_header(_("VAE Latent Explorer"))
st.markdown(_(
    "A **variational autoencoder** (VAE) squeezes each 28×28 MNIST digit into a tiny code *z* (here usually "
    "just two numbers) and learns to draw the digit back from that code. Because the code is two-dimensional, "
    "you can *see* the whole space the model has learned and walk around in it.\n\n"
    "The model chosen at the top of the page is used by every page. Two pretrained ones ship with the project: one trained "
    "on handwritten digits (MNIST) and one on photos of clothing, shoes and bags (Fashion-MNIST, ten "
    "classes from T-shirt to ankle boot); every page follows the chosen model's dataset. The runs you "
    "train here join the list when they finish."))

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "latent.png"     # the README's, made by make screenshots
if PICTURE.is_file():
    with st.container(width=960):     # at most 960 px, and the phone's width on a phone (the caption too)
        st.image(str(PICTURE), width="stretch",
                 caption=_("The Latent page: the 10,000 test digits on the plane of a 2-D VAE, the decoder's drawing "
                           "of the point under the pointer beside it, and the learned manifold under that."))

train, latent, reconstruct = st.columns(3)
with train:
    st.page_link("app_pages/pages/train.py", label=_("**Train** a VAE"), icon=":material/model_training:")
    st.caption(_("Choose epochs, latent size and learning rate, then watch the loss, its reconstruction "
                 "and KL terms, and the reconstructions improve live."))
with latent:
    st.page_link("app_pages/pages/latent.py", label=_("**Explore** the latent plane"), icon=":material/scatter_plot:")
    st.caption(_("All 10,000 test digits as dots, coloured by label. Move the pointer over the plane and the "
                 "decoder, running in your browser, draws each point as you go; zoom in, pin a point, and see "
                 "the whole learned manifold as a grid of digits."))
with reconstruct:
    st.page_link("app_pages/pages/reconstruct.py", label=_("**Reconstruct** your own digit"), icon=":material/draw:")
    st.caption(_("Upload a photo of a handwritten digit or draw one with the mouse, and see where it lands "
                 "in the latent space and how the model redraws it."))

elbo, runs_column, __ = st.columns(3)
with elbo:
    st.page_link("app_pages/pages/elbo.py", label=_("**The ELBO**, live"), icon=":material/functions:")
    st.caption(_("Every number in the objective for one real digit: μ, σ, a drawn ε, z = μ + σ·ε, and the "
                 "reconstruction and KL terms in nats beside their formulas."))
with runs_column:
    st.page_link("app_pages/pages/runs.py", label=_("**Compare** your runs"), icon=":material/compare_arrows:")
    st.caption(_("Overlay the test curves of up to five runs, compare their final numbers, and download a "
                 "run's model to share."))

model_picker(header)

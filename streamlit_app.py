"""VAE Latent Explorer: `streamlit run streamlit_app.py`. Navigation, nothing else.

Each page shows its title first and then calls app_pages.common.model_picker (the model menu
beside the title, which loads torch), so a cold start paints at once."""
import streamlit as st

from app_pages.collector import freeze_once_torch_is_loaded
from app_pages.i18n import _
from app_pages.layout import wide_frame_first

st.set_page_config(page_title=_("VAE Latent Explorer"), page_icon="🔢", layout="wide")
wide_frame_first()
navigation = st.navigation([
    st.Page("app_pages/pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    st.Page("app_pages/pages/train.py", title=_("Train"), icon=":material/model_training:", url_path="train"),
    st.Page("app_pages/pages/latent.py", title=_("Latent plane"), icon=":material/scatter_plot:", url_path="latent"),
    st.Page("app_pages/pages/reconstruct.py", title=_("Reconstruct"), icon=":material/draw:", url_path="reconstruct"),
    st.Page("app_pages/pages/elbo.py", title=_("The ELBO, live"), icon=":material/functions:", url_path="elbo"),
    st.Page("app_pages/pages/runs.py", title=_("Runs"), icon=":material/compare_arrows:", url_path="runs"),
], position="top")
navigation.run()
freeze_once_torch_is_loaded()        # once per server: full collections stop walking torch's objects (collector.py)

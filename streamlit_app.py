"""VAE Latent Explorer: `streamlit run streamlit_app.py`. Navigation and the shared model picker, nothing else."""
import streamlit as st

from app_pages.common import model_picker

st.set_page_config(page_title="VAE Latent Explorer", page_icon="🔢", layout="wide")
navigation = st.navigation([
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("app_pages/latent.py", title="Latent plane", icon=":material/scatter_plot:", url_path="latent"),
    st.Page("app_pages/reconstruct.py", title="Reconstruct", icon=":material/draw:", url_path="reconstruct"),
])
model_picker()
navigation.run()

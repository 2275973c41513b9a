"""/elbo: the ELBO and the reparameterization trick, computed live on one real digit (or item)."""
import streamlit as st

st.title("The ELBO, live")
st.caption("A VAE is trained to maximise the evidence lower bound (ELBO) of each digit. Here is every "
           "number in it, for one digit, as the model computes it.")
placeholder = st.empty()
placeholder.caption("Loading the model…")

import numpy as np  # noqa: E402  (after the title: a cold start paints before torch has loaded)
import torch  # noqa: E402

from app_pages.common import page_model, pinned, shared_view  # noqa: E402
from app_pages.plane import PlaneData, PlaneExtras, latent_plane  # noqa: E402
from app_pages import plots  # noqa: E402
from vae import inference  # noqa: E402
from vae.data import to_float  # noqa: E402
from vae.model import negative_elbo  # noqa: E402

loaded = page_model(placeholder)
model = loaded.model
images, labels = loaded.test_set()
item, names = loaded.dataset.item, loaded.dataset.class_names

yours = (st.session_state.get("reconstruct_of") or {}).get("dataset") == loaded.dataset.name
sources = [f"A test {item}"] + ([f"Your {item} (Reconstruct page)"] if yours else [])
if st.session_state.get("elbo_source") not in sources:
    st.session_state.pop("elbo_source", None)                     # e.g. after switching to another dataset's model
source_column, index_column, beta_column = st.columns(3)
source = source_column.radio(item.capitalize(), sources, key="elbo_source")
if source == sources[0]:
    index = int(index_column.number_input(f"Test {item} index", 0, len(images) - 1, 0, key="elbo_index"))
    digit, name = images[index], f"test {item} #{index} ({names[labels[index]]})"
else:
    digit, name = torch.tensor(np.asarray(st.session_state.reconstruct_digit, dtype=np.uint8)), f"your {item}"
beta = beta_column.slider("β (weight of the KL term)", 0.0, 4.0, 1.0, step=0.1, key="elbo_beta",
                          help="β = 1 is the ELBO itself. A β-VAE trains on recon + β·KL: larger β pushes "
                               "codes towards the prior (smoother plane, blurrier digits), smaller β the other way.")
draw = st.session_state.setdefault("elbo_draw", 0)
if st.button("Draw another ε", key="elbo_redraw", help="A new sample of the noise: z, the decoding and the "
                                                      "reconstruction term change; μ, σ and the KL do not."):
    st.session_state.elbo_draw = draw = draw + 1

x = to_float(digit.reshape(1, 28, 28))                                   # (1, 1, 28, 28) in [0, 1]
with torch.inference_mode():
    mean, logvar = model.encode(x)
    epsilon = torch.randn(mean.shape, generator=torch.Generator().manual_seed(draw))   # the noise, drawn once
    z = model.reparameterize(mean, logvar, eps=epsilon)                                # the z shown is μ + σ·ε of it
    logits = model.decode_logits(z)
    objective, recon, kl = negative_elbo(logits, x, mean, logvar, beta=beta)
    decoded = torch.sigmoid(logits)[0, 0].numpy()
sigma = torch.exp(0.5 * logvar)


def vector(t: torch.Tensor) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in t[0].tolist()[:8]) + (", …" if t.shape[1] > 8 else "") + ")"


left, right = st.columns([1, 2], gap="large")
with left:
    pictures = st.columns(2)
    pictures[0].image(plots.enlarge(digit.numpy(), 5), width=120, caption=name)
    pictures[1].image(plots.enlarge(decoded, 5), width=120, caption="p(x | z): the decoding of this z")
with right:
    st.markdown(f"**1. Encode.** q(z|x) = N(μ, σ²) with μ = {vector(mean)}, σ = {vector(sigma)}")
    st.markdown(f"**2. Sample by reparameterization** (draw {draw}): ε = {vector(epsilon)}, z = μ + σ·ε = {vector(z)}")
    st.latex(r"z = \mu + \sigma \odot \varepsilon,\qquad \varepsilon \sim \mathcal{N}(0, I)")
    st.markdown(f"**3. Reconstruction term** (nats): −log p(x|z) = **{recon.item():.2f}**")
    st.latex(r"\begin{aligned}-\log p(x\mid z) &= -\sum_{i=1}^{784} \big[x_i \log p_i \\"    # on lines that fit a
             r"&\quad + (1 - x_i)\log(1 - p_i)\big]\end{aligned}")                  # column 340 px wide
    st.markdown(f"**4. KL term** (nats): KL(q(z|x) ‖ p(z)) = **{kl.item():.2f}**")
    st.latex(r"\mathrm{KL} = \tfrac12 \sum_{j} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)")
    st.markdown(f"**5. Together**: −ELBO = {recon.item():.2f} + {kl.item():.2f} = **{recon.item() + kl.item():.2f}** "
                f"nats; the training objective $\\mathcal{{L}}_\\beta$ with β = {beta:g} is {recon.item():.2f} + "
                f"{beta:g} × {kl.item():.2f} = **{objective.item():.2f}** (at β = 1 it is the −ELBO).")
    st.latex(r"\begin{aligned}\mathcal{L}_\beta(x) &= \underbrace{-\log p(x\mid z)}_{\text{reconstruction}} \\"
             r"&\quad + \beta\,\underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big)}_{\text{regularizer}}, \\"
             rf"\beta &= {beta:g}\end{{aligned}}")

st.subheader("Where z lands")
encodings = loaded.encodings()
view = shared_view(model.latent_dim, encodings)
pin = pinned((loaded.key, view.key))
points = view.basis.to_plane(encodings)
(mx, my), (zx, zy) = view.basis.to_plane(mean.numpy())[0], view.basis.to_plane(z.numpy())[0]
sx, sy = view.basis.spread(sigma[0].numpy())
st.caption("The red cross is z = μ + σ·ε; the dashed ellipse is μ ± 2σ, where z falls 86 % of the time"
           + (" (in the Latent page's view of the latent space)." if model.latent_dim > 2 else "."))



latent_plane(key="plane_elbo", model=model, checkpoint_key=loaded.key, view=view,
             data=PlaneData(points, labels, images, inference.plane_extent(points), loaded.dataset),
             pin=pin.for_plane("plane_elbo"),
             extras=PlaneExtras(mark=(zx, zy), overlays={"ellipse": {"x": mx, "y": my, "rx": 2 * sx, "ry": 2 * sy}}))

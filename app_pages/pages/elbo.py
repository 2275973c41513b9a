"""/elbo: the ELBO and the reparameterization trick, computed live on one real digit (or item)."""
import streamlit as st

from app_pages.common import page_header  # noqa: E402  (no torch: the title paints at once)
from app_pages.i18n import _  # noqa: E402

header = page_header(_("The ELBO, live"))
st.caption(_("A VAE is trained to maximise the evidence lower bound (ELBO) of each digit. Here is every "
             "number in it, for one digit, as the model computes it."))
placeholder = st.empty()
placeholder.caption(_("Loading the model…"))

from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402  (after the title: a cold start paints before torch has loaded)
import torch  # noqa: E402

from app_pages.common import class_names, item_word, page_model, pinned, shared_view  # noqa: E402
from app_pages.plane import (PlaneData, PlaneExtras, PlanePin, browser_state, decoder_failed,  # noqa: E402
                             latent_plane)
from app_pages import plots  # noqa: E402
from vae import inference  # noqa: E402
from vae.data import to_float  # noqa: E402
from vae.model import negative_elbo  # noqa: E402

loaded = page_model(placeholder, header)
model = loaded.model
images, labels = loaded.test_set()
item, names = item_word(loaded.dataset), class_names(loaded.dataset)

yours = (st.session_state.get("reconstruct_of") or {}).get("dataset") == loaded.dataset.name
# The radio's values are its English words in every language (a switch keeps the choice), shown in the session's.
test_source, your_source = f"A test {loaded.dataset.item}", f"Your {loaded.dataset.item} (Reconstruct page)"
sources = {test_source: _("A test {item}").format(item=item)}
if yours:
    sources[your_source] = _("Your {item} (Reconstruct page)").format(item=item)
if st.session_state.get("elbo_source") not in sources:
    st.session_state.pop("elbo_source", None)                     # e.g. after switching to another dataset's model
source_column, index_column, beta_column = st.columns(3)
source = source_column.radio(item_word(loaded.dataset, "capital"), list(sources), key="elbo_source",
                             format_func=sources.get)
if source == test_source:
    index = int(index_column.number_input(_("Test {item} index").format(item=item), 0, len(images) - 1, 0,
                                          key="elbo_index"))
    digit, name = images[index], _("test {item} #{index} ({label})").format(item=item, index=index,
                                                                            label=names[labels[index]])
else:
    digit = torch.tensor(np.asarray(st.session_state.reconstruct_digit, dtype=np.uint8))
    name = _("your {item}").format(item=item)
beta = beta_column.slider(_("β (weight of the KL term)"), 0.0, 4.0, 1.0, step=0.1, key="elbo_beta",
                          help=_("β = 1 is the ELBO itself. A β-VAE trains on recon + β·KL: larger β pushes "
                                 "codes towards the prior (smoother plane, blurrier digits), smaller β the other way."))
draw = st.session_state.setdefault("elbo_draw", 0)
if st.button(_("Draw another ε"), key="elbo_redraw", help=_("A new sample of the noise: z, the decoding and the "
                                                            "reconstruction term change; μ, σ and the KL do not.")):
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


def pin_on_z(at: tuple[float, float], basis) -> PlanePin:
    """The plane's pin on z (`at`): put there anew (its serial bumped) whenever z moves (another digit,
    draw or view), so the plane's preview panel shows z's decoding; a point the user pins stays until
    then. The Latent page's pin (app_pages.common.pinned) is left where it is."""
    kept = st.session_state.get("elbo_pin")
    if kept is None or kept["at"] != at:
        kept = st.session_state.elbo_pin = {"at": at, "serial": kept["serial"] + 1 if kept else 1, "xy": at}

    def take() -> None:                          # the user's pin, for the server's decoding of it below
        xy = browser_state("plane_elbo").get("pin")
        if xy is not None and "elbo_pin" in st.session_state:
            st.session_state.elbo_pin["xy"] = xy

    image = None
    if decoder_failed("plane_elbo"):            # the browser cannot decode: the server's picture of the pin
        image = decoded if kept["xy"] == at else inference.decode_points(model, basis.to_latent([kept["xy"]]))[0]
    return PlanePin(at, kept["serial"], take, None if image is None else plots.enlarge(image, 1))


left, right = st.columns([1, 2], gap="large")
with left:
    pictures = st.columns(2)
    pictures[0].image(plots.enlarge(digit.numpy(), 5), width=120, caption=name)
    pictures[1].image(plots.enlarge(decoded, 5), width=120, caption=_("p(x | z): the decoding of this z"))
with right:
    st.markdown(_("**1. Encode.** q(z|x) = N(μ, σ²) with μ = {mean}, σ = {sigma}").format(mean=vector(mean),
                                                                                          sigma=vector(sigma)))
    st.markdown(_("**2. Sample by reparameterization** (draw {draw}): ε = {epsilon}, z = μ + σ·ε = {z}").format(
        draw=draw, epsilon=vector(epsilon), z=vector(z)))
    st.latex(r"z = \mu + \sigma \odot \varepsilon,\qquad \varepsilon \sim \mathcal{N}(0, I)")
    st.markdown(_("**3. Reconstruction term** (nats): −log p(x|z) = **{recon}**").format(recon=f"{recon.item():.2f}"))
    st.latex(r"\begin{aligned}-\log p(x\mid z) &= -\sum_{i=1}^{784} \big[x_i \log p_i \\"    # on lines that fit a
             r"&\quad + (1 - x_i)\log(1 - p_i)\big]\end{aligned}")                  # column 340 px wide
    st.markdown(_("**4. KL term** (nats): KL(q(z|x) ‖ p(z)) = **{kl}**").format(kl=f"{kl.item():.2f}"))
    st.latex(r"\mathrm{KL} = \tfrac12 \sum_{j} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)")
    st.markdown(_("**5. Together**: −ELBO = {recon} + {kl} = **{total}** nats; the training objective "
                  "$\\mathcal{{L}}_\\beta$ with β = {beta} is {recon} + {beta} × {kl} = **{objective}** (at β = 1 it is "
                  "the −ELBO).").format(recon=f"{recon.item():.2f}", kl=f"{kl.item():.2f}",
                                        total=f"{recon.item() + kl.item():.2f}", beta=f"{beta:g}",
                                        objective=f"{objective.item():.2f}"))
    # The formula stays a formula; only the words under its braces are the session's language's.
    st.latex(r"\begin{aligned}\mathcal{L}_\beta(x) &= \underbrace{-\log p(x\mid z)}_{\text{" + _("reconstruction")
             + r"}} \\&\quad + \beta\,\underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big)}_{\text{"
             + _("regularizer") + r"}}, \\" + rf"\beta &= {beta:g}\end{{aligned}}")

st.subheader(_("Where z lands"))
encodings = loaded.encodings()
view = shared_view(model.latent_dim, encodings)
pinned((loaded.key, view.key))    # the Latent page's pin, as every plane page keeps it (a link's ?z=, the URL)
points = view.basis.to_plane(encodings)
(mx, my), (zx, zy) = view.basis.to_plane(mean.numpy())[0], view.basis.to_plane(z.numpy())[0]
sx, sy = view.basis.spread(sigma[0].numpy())
# The plane through z parallel to the Latent page's view: every point keeps its coordinates, and the
# plane's point (zx, zy) is z itself in all its dimensions, whose decoding the preview panel shows.
u, v = view.basis.u, view.basis.v
view = replace(view, basis=replace(view.basis, origin=z[0].numpy().astype(np.float64) - zx * u - zy * v))
# On the whole plane μ ± 2σ is a few pixels across, under the cross on z: the plane opens on a square
# around μ in which the ellipse spans a sixth (the whole plane if that is smaller). Each digit is a view of
# its own, which the plane opens anew; a new draw of ε keeps the user's zoom.
extent, half = inference.plane_extent(points), 6 * 2 * max(sx, sy)
if 2 * half < max(extent[1] - extent[0], extent[3] - extent[2]):
    extent = (mx - half, mx + half, my - half, my + half)
view = replace(view, key=(*view.key, "around", *(round(float(e), 6) for e in extent)))
st.caption((_("The red cross is z = μ + σ·ε, and the pinned point (the ring) starts on it: the panel beside the "
              "plane decodes it. The dashed ellipse is μ ± 2σ, where z falls {share} of the time (on a plane through z "
              "parallel to the Latent page's view). The plane opens zoomed in on it: zoom out to see the other test "
              "{items}.") if model.latent_dim > 2 else
            _("The red cross is z = μ + σ·ε, and the pinned point (the ring) starts on it: the panel beside the "
              "plane decodes it. The dashed ellipse is μ ± 2σ, where z falls {share} of the time. The plane opens zoomed "
              "in on it: zoom out to see the other test {items}.")).format(items=item_word(loaded.dataset, "many"),
                                                          share="86 %"))
latent_plane(key="plane_elbo", model=model, checkpoint_key=loaded.key, view=view,
             data=PlaneData(points, labels, images, extent, loaded.dataset),
             pin=pin_on_z((float(zx), float(zy)), view.basis),
             extras=PlaneExtras(mark=(zx, zy), overlays={"ellipse": {"x": mx, "y": my, "rx": 2 * sx, "ry": 2 * sy}}))

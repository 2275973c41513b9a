"""The ELBO page: its formulas follow its widgets, and its plane shows this digit's z and posterior."""
import base64
import re

import numpy as np
import pytest
import torch

import vae
from app_pages import catalog
from app_pages.plane import home_square
from vae.data import load_mnist, to_float

from test_pages import messages, plane_data


def test_the_last_formula_shows_the_sliders_beta(open_page):
    app = open_page("app_pages/pages/elbo.py")
    for beta in (3.0, 0.5, 1.0):
        app.slider(key="elbo_beta").set_value(beta).run()
        assert messages(app) == {"exception": [], "error": []}
        written = re.findall(r"\\beta\s*&?=\s*([0-9.]+)", app.latex[-1].value)
        assert [float(v) for v in written] == [beta], app.latex[-1].value


def digit_z(model, index: int, draw: int) -> torch.Tensor:
    """z = μ + σ·ε of test digit `index` and the page's draw `draw` of ε, computed here: (latent_dim,)."""
    x = to_float(load_mnist("test")[0][index]).reshape(1, 1, 28, 28)
    with torch.no_grad():
        mean, logvar = model.encode(x)
    return (mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=torch.Generator().manual_seed(draw)))[0]


def pinned_latent(data: dict) -> np.ndarray:
    """The latent point the plane decodes at its pin: origin + x·u + y·v of the plane's basis."""
    basis = {name: np.asarray(data["basis"][name]) for name in ("origin", "u", "v")}
    return basis["origin"] + data["pin"][0] * basis["u"] + data["pin"][1] * basis["v"]


def test_the_planes_pin_is_this_digits_z_and_follows_each_draw(open_page):
    """The plane's pin (its preview panel decodes it) is z, put there anew for each digit and draw of ε,
    not the Latent page's pin, which the ELBO page leaves where it was."""
    app = open_page("app_pages/pages/latent.py")
    latent = plane_data(app)
    app.switch_page("app_pages/pages/elbo.py").run()
    app.number_input(key="elbo_index").set_value(7).run()
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    serials = []
    for draw in (0, 1):
        if draw:
            app.button(key="elbo_redraw").click().run()
        assert messages(app) == {"exception": [], "error": []}
        data, z = plane_data(app), digit_z(model, 7, draw)
        np.testing.assert_allclose(pinned_latent(data), z.numpy(), atol=1e-5)
        assert data["pin"] == pytest.approx(data["mark"], abs=1e-6)
        serials.append(data["pin_serial"])
    app.slider(key="elbo_beta").set_value(2.0).run()                   # z stays: a pin the user moved stays too
    serials.append(plane_data(app)["pin_serial"])
    assert serials[0] != serials[1] == serials[2]
    app.session_state["plane_elbo"] = {"decoder_failed": "no WebGL"}  # the server's decoding of the pin: z's
    app.run()
    with torch.no_grad():
        expected = torch.sigmoid(model.decode_logits(z[None]))[0, 0].numpy()
    shown = np.frombuffer(base64.b64decode(plane_data(app)["pin_image"]), dtype=np.uint8).reshape(28, 28)
    assert np.abs(shown / 255 - expected).max() < 0.01
    app.switch_page("app_pages/pages/latent.py").run()
    back = plane_data(app)
    assert (back["pin"], back["pin_serial"]) == (latent["pin"], latent["pin_serial"])


def test_the_pin_decodes_z_in_all_dimensions_of_a_larger_model(open_page, tmp_path, monkeypatch):
    """A 4-D model: the plane on the ELBO page passes through z (parallel to the Latent page's view), so
    the point decoded at its pin is z in all four dimensions, not z's projection with the others at 0."""
    path = tmp_path / "z4.pt"
    torch.manual_seed(0)
    vae.save_checkpoint(path, vae.VAE(vae.ModelConfig(latent_dim=4)).eval(), {"epoch": 0, "test_metrics": None})
    monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(path))
    app = open_page("app_pages/pages/elbo.py")
    app.number_input(key="elbo_index").set_value(3).run()
    app.button(key="elbo_redraw").click().run()
    assert messages(app) == {"exception": [], "error": []}
    model, _ = vae.load_checkpoint(path)
    z = digit_z(model, 3, 1).numpy()
    data = plane_data(app)
    np.testing.assert_allclose(pinned_latent(data), z, atol=1e-5)
    assert data["pin"] == pytest.approx(data["mark"], abs=1e-6)
    assert data["pin"] == pytest.approx(z[:2].tolist(), abs=1e-5)           # the view's axes: z0, z1


def test_the_plane_opens_zoomed_to_the_posterior_of_this_digit(open_page):
    """On the whole plane (7.5 units across) μ ± 2σ of a digit is ~0.1 units, a few pixels, under the
    16 px cross on z. The plane opens on a square around μ in which the ellipse spans a sixth, each digit
    on its own (a new view key), each draw of ε in the same one (a zoom the user chose stays)."""
    app = open_page("app_pages/pages/elbo.py")
    model, _ = vae.load_checkpoint(catalog.default_checkpoint())
    keys = []
    for index, draw in ((7, 0), (7, 1), (8, 1)):
        app.number_input(key="elbo_index").set_value(index).run()
        if draw:
            app.button(key="elbo_redraw").click().run()
        assert messages(app) == {"exception": [], "error": []}
        x = to_float(load_mnist("test")[0][index]).reshape(1, 1, 28, 28)
        with torch.no_grad():
            mean, logvar = model.encode(x)
        mu, radius = mean[0].numpy(), 2 * torch.exp(0.5 * logvar)[0].numpy()     # the ellipse: μ ± 2σ
        data = plane_data(app)
        x0, x1, y0, y1 = home_square(data["extent"])                 # what the browser opens on (View.home)
        assert 2 * radius.max() >= (x1 - x0) / 6.5
        for px, py in (mu, data["mark"]):                             # μ and z well inside
            assert x0 + 0.2 * (x1 - x0) < px < x1 - 0.2 * (x1 - x0) and y0 + 0.2 * (y1 - y0) < py < y1 - 0.2 * (y1 - y0)
        keys.append(data["view_key"])
    assert keys[0] == keys[1] != keys[2]

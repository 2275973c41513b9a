"""What every page shares: the sidebar model picker, the cached model, test set and encodings, the
pinned point, and the view's state in the URL (?model=…&z=x,y&dims=i,j).

torch and the `vae` package are imported inside the functions that need them, so that a page can
show its title and a placeholder before they load (2–5 s on a cold start)."""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.i18n import N_, _, language, language_switch, said
from app_pages.state import first_visit_param, publish

SHIPPED_PREFIX, RUN_PREFIX = "", "run:"
PIN_BOUND = 1e3         # |x|, |y| of a pin, from a link or the browser: the plane's view is clamped to half-width 1e3


@dataclass(frozen=True)
class Loaded:
    model: "vae.VAE"  # noqa: F821 (imported lazily)
    meta: dict
    key: tuple          # (path, modification time): a retrained file is a new model
    dataset: "vae.datasets.Dataset"  # noqa: F821 what it was trained on: its test set, class names

    def test_set(self):
        return test_set(self.dataset)

    def encodings(self) -> np.ndarray:
        with st.spinner(_("Encoding the 10,000 test images…")):       # shown only if it takes half a second
            return encoded_test_set(self.model, self.key, self.dataset.name)

    def dimension_kl(self) -> list[float]:
        """Each latent dimension's KL from the prior on the test set, nats (vae.inference.dimension_kl)."""
        with st.spinner(_("Encoding the 10,000 test images…")):
            return dimension_kl(self.model, self.key, self.dataset.name)


# The caches' own spinners would say their words in the language of the server's start: each call site
# says them with st.spinner in the session's language instead.
@st.cache_resource(max_entries=8, show_spinner=False)
def load_model(path: str, modified: float):
    """One model per checkpoint file version, in eval mode, shared by every session; never mutated."""
    import vae

    return vae.load_checkpoint(path)


@st.cache_resource(show_spinner=False)
def _test_set(dataset: str = "mnist"):
    from vae.data import load_dataset

    images, labels = load_dataset("test", dataset=dataset, fetch=False)   # never a download inside the server
    return images, labels.numpy()


def test_set(dataset="mnist"):
    """The 10,000 test images of a dataset (a name or vae.datasets.Dataset; uint8 tensor, read-only)
    and their labels; without them the page says how to fetch them and stops."""
    from vae.data import DataError

    try:
        with st.spinner(_("Reading the test set…")):
            return _test_set(getattr(dataset, "name", dataset))
    except DataError as exc:
        st.error(said(exc), icon=":material/database:")
        st.stop()


@st.cache_data(max_entries=8, show_spinner=False)
def encoded_test_set(_model, checkpoint_key: tuple, dataset: str = "mnist") -> np.ndarray:
    """Latent means of the model's test set (10000, latent_dim), computed once per checkpoint."""
    from vae import inference

    return inference.encode_dataset(_model, _test_set(dataset)[0])


@st.cache_data(max_entries=8, show_spinner=False)
def dimension_kl(_model, checkpoint_key: tuple, dataset: str = "mnist") -> list[float]:
    """Each latent dimension's mean KL(q(z_i|x) ‖ N(0, 1)) over the model's test set, computed once per checkpoint."""
    from vae import inference

    return [float(v) for v in inference.dimension_kl(_model, _test_set(dataset)[0])]


@st.cache_data(max_entries=8, show_spinner=False)
def shipped_label(path: str, modified: float, lang: str):       # lang: its details are in the session's language
    from app_pages import catalog

    return catalog.shipped_choice(Path(path))


@st.cache_data(max_entries=16, show_spinner=False)
def statusless_label(run_dir: str, modified: float, lang: str):
    from app_pages import catalog

    return catalog.statusless_choice(Path(run_dir))


def model_choices() -> list:
    """The menu's models, each under a name no other entry shows: a run named like a shipped model (or
    like another run) also says its folder, and invisible characters are no part of a name."""
    from app_pages import catalog

    shipped = [shipped_label(str(path), path.stat().st_mtime, language()) for path in catalog.shipped_checkpoints()
               if path.is_file()]
    shipped = [replace(choice, name=plain_text(choice.name)) for choice in shipped if choice]
    root = catalog.runs_root()
    statusless = [statusless_label(str(run_dir), (run_dir / catalog.CHECKPOINT).stat().st_mtime, language())
                  for run_dir in catalog.statusless_runs(root)]
    found = [replace(choice, name=plain_text(choice.name))
             for choice in catalog.run_choices(root) + [choice for choice in statusless if choice]]
    taken = Counter(choice.name for choice in shipped + found)
    return shipped + [replace(choice, name=_("{name} (run {folder})").format(name=choice.name,
                                                                         folder=plain_text(choice.path.parent.name)))
                      if taken[choice.name] > 1 else choice for choice in found]


@st.cache_data(max_entries=4, show_spinner=False)
def _why_unusable(path: str, modified: float) -> str | None:
    """What is wrong with the checkpoint at `path` (a message of vae.messages, without the path), or None."""
    from vae.checkpoint import CheckpointError, read_checkpoint
    from vae.messages import message_of

    try:
        read_checkpoint(path)
    except CheckpointError as exc:
        message = message_of(exc)
        return message.params["problem"] if message and "problem" in message.params else str(exc).removeprefix(f"{path}: ")
    return None


def checkpoint_env_problem(choices: list) -> str | None:
    """"VAE_CHECKPOINT=<value>: <why>" when $VAE_CHECKPOINT is set and the menu (`choices`) lacks its file
    because it cannot be opened (missing, not a checkpoint, corrupt); None when it is unset or offered."""
    import os

    from app_pages import catalog

    value = os.environ.get(catalog.CHECKPOINT_ENV)
    if not value or any(Path(choice.path) == Path(value) for choice in choices):
        return None
    try:
        modified = Path(value).stat().st_mtime
    except OSError:
        modified = -1.0                 # read_checkpoint says "no such checkpoint file"
    why = _why_unusable(value, modified)
    from vae.messages import say

    return why and said(say("{path}: {problem}", path=f"{catalog.CHECKPOINT_ENV}={value}", problem=why))   # as a file's


# vae.datasets' word for one example, as the pages use it: in a sentence, as a label, and for several.
ITEMS = {"one": {"digit": N_("digit"), "item": N_("item")}, "capital": {"digit": N_("Digit"), "item": N_("Item")},
         "many": {"digit": N_("digits"), "item": N_("items")}}


def item_word(dataset, form: str = "one") -> str:
    """The dataset's word for one example ("digit", "item") in the session's language: `form` "one", "capital"
    (a label's) or "many"."""
    words = ITEMS[form]
    return _(words[dataset.item]) if dataset.item in words else dataset.item


# Fashion-MNIST's class names (vae.datasets), which the pages and the plane show in the session's
# language; MNIST's are its digits, the same in every language.
CLASS_NAMES = (N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"), N_("Sandal"), N_("Shirt"),
               N_("Sneaker"), N_("Bag"), N_("Ankle boot"))


def class_names(dataset) -> tuple[str, ...]:
    """The dataset's class names in the session's language (label i reads as the i-th)."""
    return tuple(_(name) if name in CLASS_NAMES else name for name in dataset.class_names)


def url_name(path: Path) -> str:
    """A model's name in the URL: the shipped file's stem, or run:<folder> for a training run."""
    from app_pages import catalog

    path = Path(path)
    return SHIPPED_PREFIX + path.stem if catalog.is_shipped(path) else RUN_PREFIX + path.parent.name


def page_header(title: str):
    """The page's title, at once, with the language switch beside it, in a row that the model picker
    (model_picker) joins on its right once the menu is read; on a narrow screen the picker goes under the
    title. Returns the row."""
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium", key="page_header")
    row.title(title, width="content")
    language_switch(row)
    return row


MODEL_CHOICE = "model_choice"    # the session's model (a checkpoint path), which every page's menu starts from


def pick_model(path: str) -> None:
    """Make `path` the session's model: every page's menu (model_picker) shows it from the next run on."""
    st.session_state[MODEL_CHOICE] = path


def model_picker(where) -> None:
    """The model menu, in the page's header row `where` (page_header), where it shows at every screen
    size. The chosen checkpoint path lands in st.session_state.checkpoint, which follows the user to
    every page. A ?model= in the session's first link picks the model; the choice goes back to the URL
    with the rest of the state (app_pages.state)."""
    choices = model_choices()
    with where:
        if problem := checkpoint_env_problem(choices):    # a deployment's model that will not open says why
            st.warning(escape_markdown(problem), icon=":material/error:")
        if not choices:
            st.session_state.checkpoint = None
            if not problem:
                st.info(_("No model yet. Train one on the Train page, or run `make run` to fetch the default."))
            publish(model=None)
            return
        labels = {str(choice.path): choice for choice in choices}
        by_name = {url_name(choice.path): str(choice.path) for choice in choices}
        wanted, unknown = first_visit_param("model"), None
        if wanted in by_name:
            pick_model(by_name[wanted])
        elif wanted is not None:
            unknown = _("The link asks for a model named “{name}”, which is not here; showing the default "
                        "model.").format(name=escape_markdown(wanted[:80]))
        if st.session_state.get(MODEL_CHOICE) not in labels:
            pick_model(next(iter(labels)))
        # Each page's menu is a widget of its own: it starts from the session's choice, whichever page (or
        # link, or button) made it; Streamlit's own carry-over of a widget's value missed a choice made by a
        # link on a page that then ran once (Home, then any page: the default model again).
        st.session_state.checkpoint = st.session_state[MODEL_CHOICE]
        with st.container(horizontal=True, vertical_alignment="center", gap="small", key="model_menu", width="content"):
            chosen = st.selectbox(_("Model"), options=list(labels), format_func=lambda path: labels[path].name,
                                  key="checkpoint", on_change=lambda: pick_model(st.session_state.checkpoint),
                                  label_visibility="collapsed",
                                  width=220, placeholder=_("Model"),
                                  help=_("The model every page shows: the shipped models, then your finished or "
                                         "stopped training runs, newest first. Beside it: dataset · latent size · "
                                         "epochs · test loss (negative ELBO, nats per image; lower is better)."))
            # The menu cuts long text short; the whole label goes beside it, where it wraps: name, then details.
            st.caption(f"{escape_markdown(labels[chosen].name)}  \n{escape_markdown(labels[chosen].details)}",
                       width=200)
    link_warning("model", st.session_state.checkpoint, unknown)
    publish(model=url_name(Path(chosen)))


# Text from outside (a link's ?model=, a run's folder, name or status.json, an upload's file name, an
# exception that quotes any of them) reaches Streamlit, which renders Markdown almost everywhere: in
# st.warning, st.caption, st.toast, widget labels, image captions, progress texts.

def plain_text(text) -> str:
    """`text` without control and invisible format characters: no bidi override (U+202E…) to make it
    read reversed, no zero-width character to make two names that look the same differ. Line breaks
    and tabs stay; so does the zero-width joiner, which glues emoji."""
    return "".join(c for c in str(text)
                   if c in "\n\t\u200d" or unicodedata.category(c) not in ("Cc", "Cf"))


def escape_markdown(text) -> str:
    """`text` shown as itself where Streamlit renders Markdown. Every ASCII punctuation character is
    backslash-escaped (CommonMark lets any be, and links, images, HTML, emphasis, $LaTeX$ and :red[…]
    directives all start with one). Escapes are undone before the transforms that run on the parsed
    text: GFM's autolinks (http://…, www.…, a@b.c) and Streamlit's :emoji: and :material/icons:. An
    invisible word joiner after each ':' and '@', and between 'www' and '.', keeps those from matching."""
    text = re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", plain_text(text))
    text = re.sub(r"(\\[:@])", "\\1\u2060", text)
    return re.sub(r"(www)(?=\\\.)", "\\1\u2060", text, flags=re.IGNORECASE)


def escape_as_code(text) -> str:
    """`text` as inline code, for a file or folder name: nothing inside code is Markdown, autolinked or
    an emoji, so it reads character for character (escape_markdown's joiners would be copied with it).
    On one line (a blank line would end the span), fenced by more backticks than it holds in a row."""
    text = " ".join(plain_text(text).split("\n")).replace(":material/", ":\u2060material/")  # else an icon's name
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"              # CommonMark drops one space each side: a ` at either end is safe


def page_model(placeholder, header) -> Loaded:
    """For a page that painted its title (page_header: `header`) and `placeholder` first: the model
    picker, then the chosen model; the placeholder goes, and the page stops (having said why) when
    there is no model."""
    model_picker(header)
    return opened_model(placeholder)


def opened_model(placeholder) -> Loaded:
    """The model the picker (model_picker, drawn already) chose; the placeholder goes, and the page
    stops (having said why) when there is none."""
    loaded = selected_model()
    placeholder.empty()
    if loaded is None:
        st.stop()
    return loaded


def selected_model() -> Loaded | None:
    """The picked model, or None after telling the user why there is none."""
    import vae
    from vae.datasets import dataset_of

    path = st.session_state.get("checkpoint")
    if not path:
        st.warning(_("No model to show yet: train one on the Train page first."))
        return None
    try:
        modified = Path(path).stat().st_mtime
        with st.spinner(_("Loading the model…")):
            model, meta = load_model(path, modified)
        dataset = dataset_of(meta)
    except (OSError, ValueError, vae.CheckpointError) as exc:
        st.error(_("The model could not be opened: {error}").format(error=escape_markdown(said(exc))))
        return None
    return Loaded(model, meta, (path, modified), dataset)


# The view: which two latent dimensions, and the pinned point --------------------------------------

def link_warning(name: str, about, message: str | None = None) -> None:
    """Show what was wrong with ?name= in the session's first link (`message`, given once, Markdown)
    on every run, until `about`, the thing it concerns, changes: read only on the first run, it would
    go at the next one, which a plane component asks for within a second of showing."""
    kept = st.session_state.setdefault("link_warnings", {})
    if message is not None:
        kept[name] = (about, message)
    if name in kept and kept[name][0] == about:
        st.warning(kept[name][1], icon=":material/link_off:")
    else:
        kept.pop(name, None)


def parse_pair(text: str | None, kind=float) -> tuple | None:
    """'1.5,-2' -> (1.5, -2.0); None for anything else (wrong count, not numbers, not finite)."""
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 2:
        return None
    try:
        pair = tuple(kind(part.strip()) for part in parts)
    except ValueError:
        return None
    return pair if all(math.isfinite(v) for v in pair) else None


@dataclass(frozen=True)
class PlaneView:
    """The plane through latent space that the pages show (vae.inference.PlaneBasis) and its names."""
    basis: object            # vae.inference.PlaneBasis
    axes: tuple[str, str]
    key: tuple               # identifies the view: a new one gets a new pin and zoom
    url: str                 # its ?dims= value
    note: str | None         # what the page says about it (None for a 2-D model)


def _choice_view(latent_dim: int, choice: tuple, encodings: np.ndarray) -> PlaneView:
    from vae import inference

    basis, axes, note = inference.chosen_plane(latent_dim, choice, encodings)
    if choice[0] == "pca":
        return PlaneView(basis, axes, ("pca",), "pca", note)
    _, (x, y), hold = choice
    return PlaneView(basis, axes, ("dims", x, y, hold), f"{x},{y}", note)


def plane_view(latent_dim: int, encodings: np.ndarray) -> PlaneView:
    """The Latent page's view picker (models with more than two latent dimensions): two of them, the
    others at 0 or at a test image's values, or the PCA plane. First run: from ?dims= in the URL (i,j or
    pca). The choice is kept in st.session_state.plane_choice for the other pages."""
    if latent_dim == 2:
        st.session_state.plane_choice = ("dims", (0, 1), None)
        publish(dims=None)
        return _choice_view(2, st.session_state.plane_choice, encodings)
    options = list(range(latent_dim))
    wanted, unfit = first_visit_param("dims"), None
    if wanted is not None:
        dims = parse_pair(wanted, int)
        if wanted == "pca":
            st.session_state.view_kind = "pca"
        elif dims and all(0 <= d < latent_dim for d in dims) and dims[0] != dims[1]:
            st.session_state.view_kind = "dims"
            st.session_state.dim_x, st.session_state.dim_y = dims
        else:
            unfit = _("The link's dimensions “{dims}” do not fit this model ({count} dimensions); showing z0 and "
                      "z1.").format(dims=escape_markdown(wanted[:40]), count=latent_dim)
    for name, default in (("dim_x", 0), ("dim_y", 1)):
        if st.session_state.get(name) not in options:
            st.session_state[name] = default
    link_warning("dims", (latent_dim, st.session_state.get("view_kind", "dims"), st.session_state.dim_x,
                          st.session_state.dim_y), unfit)
    kind = st.radio(_("View"), ["dims", "pca"], horizontal=True, key="view_kind",
                    format_func={"dims": _("two latent dimensions"), "pca": _("principal components (PCA)")}.get)
    if kind == "pca":
        choice = ("pca",)
    else:
        left, right, hold_column = st.columns(3)
        x = left.selectbox(_("Horizontal axis: latent dimension"), options, key="dim_x")
        y = right.selectbox(_("Vertical axis: latent dimension"), options, key="dim_y")
        if x == y:
            st.error(_("Pick two different dimensions."))
            st.stop()
        hold = hold_column.number_input(_("Hold the others at test image # (empty: at 0)"), 0, len(encodings) - 1,
                                        value=None, key="hold_index",
                                        help=_("Decode with the other dimensions at this image's code instead of 0."))
        choice = ("dims", (x, y), None if hold is None else int(hold))
    st.session_state.plane_choice = choice
    view = _choice_view(latent_dim, choice, encodings)
    st.info(view_note(latent_dim, choice, encodings), icon=":material/info:")
    publish(dims=view.url)
    return view


def view_note(latent_dim: int, choice: tuple, encodings: np.ndarray) -> str:
    """What the Latent page says about a view of a model with more than two dimensions: vae.inference.chosen_plane's
    note (which the exported explorer shows, in English), in the session's language."""
    if choice[0] == "pca":
        from vae import inference

        explained = inference.pca_basis(encodings)[1]
        return _("PCA view: the plane of the first two principal components of the test encodings ({first} and "
                 "{second} of their variance), through their mean; decoding maps a point back with the other {count} "
                 "components at their mean.").format(first=f"{explained[0]:.0%}", second=f"{explained[1]:.0%}",
                                                     count=latent_dim - 2)
    (x, y), hold = choice[1], choice[2]
    if hold is None:
        return _("Dimensions view: z{x} against z{y}, the other {count} held at 0 when decoding.").format(
            x=x, y=y, count=latent_dim - 2)
    return _("Dimensions view: z{x} against z{y}, the other {count} held at test image #{index}'s values when "
             "decoding.").format(x=x, y=y, count=latent_dim - 2, index=hold)


def shared_view(latent_dim: int, encodings: np.ndarray) -> PlaneView:
    """The view the Latent page last showed for a model of this size, else z0 against z1."""
    choice = st.session_state.get("plane_choice", ("dims", (0, 1), None))
    if choice[0] == "dims" and (max(choice[1]) >= latent_dim or (choice[2] or 0) >= len(encodings)):
        choice = ("dims", (0, 1), None)
    return _choice_view(latent_dim, choice, encodings)


@dataclass
class Pin:
    xy: tuple[float, float]       # where the pin is now
    serial: int                   # bumped whenever Python moves the pin, so the browser applies it
    view: tuple                   # (checkpoint key, dims) it belongs to
    placed: tuple[float, float]   # where Python last put it: what the browser is told with `serial`

    def for_plane(self, component_key: str, image=None) -> "app_pages.plane.PlanePin":  # noqa: F821
        """This pin as plane `component_key` takes it: placed at `placed`, moved by the user's pins there;
        `image`, the server's decoding of it, is shown when the browser cannot decode."""
        from app_pages.plane import PlanePin

        return PlanePin(self.placed, self.serial, pin_from(component_key), image)


def pinned(view: tuple) -> Pin:
    """The pinned point of this view. A new view (model or dimensions) starts at the prior's mean,
    or on a session's first run at ?z= from the URL."""
    pin, bad = st.session_state.get("pin"), None
    if not (isinstance(pin, Pin) and pin.view == view):
        serial = pin.serial + 1 if isinstance(pin, Pin) else 1
        xy = (0.0, 0.0)
        wanted = first_visit_param("z")
        if wanted is not None:
            parsed = parse_pair(wanted)
            if parsed is not None and all(abs(v) <= PIN_BOUND for v in parsed):
                xy = parsed
            else:
                bad = _("The link's point z = “{z}” is not two numbers; pinning the origin "
                        "instead.").format(z=escape_markdown(wanted[:40]))
        pin = st.session_state.pin = Pin(xy, serial, view, xy)
        set_pin_in_url(xy)
    link_warning("z", (pin.view, pin.xy), bad)
    return pin


def pin_from(component_key: str):
    """The callback for a plane's on_pin: take the point the user pinned in the browser."""
    def take() -> None:
        from app_pages.plane import browser_state

        xy = browser_state(component_key).get("pin")          # checked: None unless two numbers within bounds
        if xy is not None:
            move_pin(xy)
    return take


def move_pin(xy: tuple[float, float]) -> None:
    """The user pinned xy in the browser: keep it (no serial bump: the browser already shows it)."""
    pin = st.session_state.get("pin")
    if isinstance(pin, Pin):
        pin.xy = (float(xy[0]), float(xy[1]))
        set_pin_in_url(pin.xy)


def place_pin(xy: tuple[float, float]) -> None:
    """Python moves the pin to xy (the browser is told: the serial is bumped)."""
    pin = st.session_state.get("pin")
    if isinstance(pin, Pin):
        pin.xy = pin.placed = (float(xy[0]), float(xy[1]))
        pin.serial += 1
        set_pin_in_url(pin.xy)


# The sliders of a model with more than two latent dimensions move the plane's origin: the point every
# point of the plane is decoded around (the pin is the rest of the sliders' point). The session keeps it
# per model and view; a view keeps its key, so its pin and zoom stay.
def _without_plane(z, basis) -> np.ndarray:
    """z (D,) less its part in the plane of `basis` through basis.origin: an origin for that plane."""
    z, o = np.asarray(z, dtype=np.float64), np.asarray(basis.origin, dtype=np.float64)
    return z - ((z - o) @ basis.u) * basis.u - ((z - o) @ basis.v) * basis.v


def _hold(model_key: tuple, view: PlaneView, z) -> None:
    """Keep z (D,), less its part in the plane, as the origin of `view` of the model `model_key` in this session."""
    st.session_state.held = {"view": (model_key, view.key), "origin": tuple(_without_plane(z, view.basis))}


def held_view(view: PlaneView, model_key: tuple) -> PlaneView:
    """`view` with the origin the sliders left it at in this session (take_held, hold_sliders_at), if any."""
    held = st.session_state.get("held")
    if not held or held["view"] != (model_key, view.key) or len(held["origin"]) != len(view.basis.origin):
        return view
    return replace(view, basis=replace(view.basis, origin=np.asarray(held["origin"], dtype=np.float64)))


def take_held(component_key: str, model_key: tuple, view: PlaneView) -> None:
    """Keep the origin the browser's sliders last reported for `view` (checked: app_pages.plane.parse_held),
    once: a report the session has already taken is not applied again over a later choice of the page's."""
    from app_pages.plane import browser_state

    state = browser_state(component_key).get("held")
    if state is None or state == st.session_state.get("held_taken"):
        return
    st.session_state.held_taken = state
    if state["view"] == repr(view.key) and len(state["z"]) == len(view.basis.origin):
        _hold(model_key, view, state["z"])


def held_from_link(model_key: tuple, view: PlaneView) -> None:
    """?origin= of the session's first link: the origin the sliders had (D numbers, a model with more than
    two dimensions); a bad one is said, and dropped."""
    wanted, bad, count = first_visit_param("origin"), None, len(view.basis.origin)
    if wanted is not None:
        values = None
        if len(wanted) <= 40 * count:
            try:
                values = [float(part) for part in wanted.split(",")]
            except ValueError:
                values = None
        if values and len(values) == count > 2 and all(math.isfinite(v) and abs(v) <= PIN_BOUND for v in values):
            _hold(model_key, view, values)
        else:
            bad = _("The link's origin “{origin}” is not {count} numbers; decoding around the view's own origin "
                    "instead.").format(origin=escape_markdown(wanted[:60]), count=count)
    link_warning("origin", (model_key, view.key), bad)


def held_in_url(view: PlaneView, base: PlaneView) -> None:
    """The sliders' origin in the URL (?origin=), when it is not the view's own."""
    moved = view.basis is not base.basis and not np.allclose(view.basis.origin, base.basis.origin, atol=5e-5)
    publish(origin=",".join(f"{v:.4f}" for v in view.basis.origin) if moved else None)


def hold_sliders_at(z, model_key: tuple, view: PlaneView) -> None:
    """Put the sliders' point at z (D,): the pin at its place on the plane, the origin at the rest."""
    _hold(model_key, view, z)
    place_pin(tuple(view.basis.to_plane(np.asarray(z)[None])[0]))


def set_pin_in_url(xy) -> None:
    publish(z=f"{xy[0]:.4f},{xy[1]:.4f}")


# Training replay ------------------------------------------------------------------------------------

@st.cache_data(max_entries=4, show_spinner=False)
def replay_frames(run_dir: str, index_modified: float, lang: str) -> dict | None:   # lang: the frames' labels'
    """The run's replay snapshots on z0, z1 as component frames; None with fewer than two. A snapshot
    whose codes are not finite (a diverged run) is left out and said in "left_out"."""
    from vae import replay

    frames, labels, left_out = [], [], []
    for entry in replay.read_index(run_dir):
        try:
            codes = replay.load_snapshot(run_dir, entry)
        except replay.NonFiniteSnapshot as exc:       # a diverged run's: said, not drawn
            left_out.append(said(exc))                  # in the session's language (`lang`)
            continue
        except (OSError, ValueError):
            continue                                   # a snapshot removed by thinning since the index was read
        if codes.ndim != 2 or codes.shape[1] < 2:
            return None
        frames.append(codes[:, :2])
        labels.append(_("before training") if entry["step"] == 0 else
                      _("epoch {epoch} · step {step}").format(epoch=f"{entry['epoch']:g}", step=entry["step"]))
    if len(frames) < 2:
        return None
    from vae import inference

    return {"key": f"{run_dir}@{index_modified}", "labels": labels, "points": frames, "latent_dim": codes.shape[1],
            "extent": inference.plane_extent(np.concatenate(frames)), "left_out": left_out}


def replay_view(run_dir: Path, heading: bool = True) -> None:
    """The latent plane at each snapshot of the run: a slider and a play button scrub through them.
    Nothing when the run has no replay."""
    from vae import replay

    index = run_dir / replay.FOLDER / replay.INDEX
    if not index.is_file():
        return
    frames = replay_frames(str(run_dir), index.stat().st_mtime, language())
    if frames is None:
        return
    for why in frames["left_out"]:
        st.warning(escape_markdown(why), icon=":material/warning:")
    if heading:
        st.subheader(_("Replay: the latent plane while it trained"))
    st.caption(_("The 10,000 test images encoded by the model at each snapshot: before training, during the first "
                 "epoch (when the clusters form) and at each epoch's end. Press play, or drag the slider.")
               + (" " + _("The model has {count} latent dimensions: you see z0 and z1.").format(
                   count=frames["latent_dim"]) if frames["latent_dim"] > 2 else ""))
    from app_pages.plane import PlaneData, PlaneExtras, latent_plane
    from vae import inference, lifecycle
    from vae.datasets import MNIST, dataset_of

    status = lifecycle.read_status(run_dir) or {}
    try:
        dataset = dataset_of(status.get("train_config"))            # it names the dataset as a checkpoint's meta does
    except ValueError:                                               # a name this version does not know
        dataset = MNIST
    images, labels = test_set(dataset)
    view = PlaneView(inference.dims_basis(frames["latent_dim"], (0, 1)), ("z0", "z1"), ("replay",), "0,1", None)
    latent_plane(key="plane_replay", model=None, checkpoint_key=(str(run_dir), 0.0), view=view,
                 data=PlaneData(frames["points"][-1], labels, images, frames["extent"], dataset),
                 extras=PlaneExtras(frames=frames), interactive=False)

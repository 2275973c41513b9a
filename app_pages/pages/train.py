"""/train: start a training process, watch it live, stop or resume it. All state comes from the run folder."""
import streamlit as st

from app_pages.common import page_header  # noqa: E402  (no torch: the title paints at once)
from app_pages.i18n import _, said  # noqa: E402

header = page_header(_("Train a VAE"))
placeholder = st.empty()
placeholder.caption(_("Loading…"))

from pathlib import Path  # noqa: E402  (after the title: a cold start paints before torch has loaded)

import numpy as np  # noqa: E402

from app_pages import catalog, plots, roles, train_form  # noqa: E402
from app_pages.common import escape_markdown, model_picker, pick_model, replay_view, test_set  # noqa: E402
from app_pages.i18n import N_  # noqa: E402
from vae import CheckpointError, inference, lifecycle, runfiles  # noqa: E402
from vae.options import OPTIONS  # noqa: E402

EXPLANATION = N_("""
**What the curves mean.** The loss is the negative ELBO, in nats per image (lower is better):

- **Reconstruction**: how surprised the decoder is by the real pixels, given the code z.
  It falls as z carries more detail about each digit.
- **KL**: how far the encoder's distribution q(z|x) strays from the prior N(0, I).
  It measures how much information z carries, and is the price of carrying it.

They pull against each other: packing more detail into z lowers the reconstruction term but raises the KL;
keeping every q(z|x) close to the prior lowers the KL but blurs the reconstructions. Their sum balances the two,
and keeps the latent plane smooth enough to decode any point of it.
""")


def option_widget(container, name: str):
    """The widget vae.options describes for one config field; returns its value."""
    spec = train_form.widget(name)
    kind, label = spec.pop("kind"), spec.pop("label")
    if kind == "select":
        spec.pop("value")
        return container.selectbox(label, key=f"option_{name}", **spec)
    return container.number_input(label, key=f"option_{name}", **spec)


def training_form(root: Path, busy: bool) -> None:
    """Every training option: the common ones in three columns, the rest under Advanced. Start is off
    while a run is going (only one trains at a time)."""
    with st.form("train_form"):
        values, columns = {}, st.columns(3)
        for i, name in enumerate(train_form.BASIC):
            values[name] = option_widget(columns[i * 3 // len(train_form.BASIC)], name)
        with st.expander(_("Advanced: network shape, objective, optimizer, logging")):
            advanced = st.columns(3)
            for i, name in enumerate(train_form.advanced_fields()):
                values[name] = option_widget(advanced[i % 3], name)
        # A form sends its values only when one of its buttons is pressed: the estimate is of the options as
        # last sent, and "Estimate memory" sends them without starting anything.
        st.caption(escape_markdown(train_form.memory_caption(values)))
        submitted = st.form_submit_button(_("Start training"), type="primary", disabled=busy,
                                          help=_("A run is going: stop it or wait for it to finish.") if busy else None)
        st.form_submit_button(_("Estimate memory"), key="estimate_memory",
                              help=_("The memory this configuration needs, without starting it"))
    if not submitted:
        return
    try:
        model_cfg, train_cfg = train_form.configs_from_form(values)
        roles.start_run(root, model_cfg, train_cfg)       # one run at a time, across sessions and servers
    except (ValueError, RuntimeError, OSError) as exc:
        st.error(_("Training was not started. {error}").format(error=escape_markdown(said(exc))))
        return
    st.rerun()


@st.cache_data(max_entries=4, show_spinner=False)
def strip_reconstructions(checkpoint: str, modified: float) -> np.ndarray:
    """One test image of each class over its reconstruction by this checkpoint, as one image. A running run
    writes a checkpoint each epoch: it is read here on its own, not through the shared load_model cache, whose
    8 models (one per file version) every session's pages use and a long run would push out."""
    from vae import load_checkpoint
    from vae.datasets import dataset_of

    model, meta = load_checkpoint(checkpoint)
    images, labels = test_set(dataset_of(meta))
    picks = [int(np.flatnonzero(labels == d)[0]) for d in range(10)]
    recons, _ = inference.reconstruct(model, images[picks])
    return plots.digit_rows(images[picks].numpy() / 255.0, recons)


def progress(status: dict) -> None:
    step, total = status.get("step") or 0, status.get("total_steps") or 0
    st.progress(min(step / total, 1.0) if total else 0.0, text=train_form.progress_text(status))


def configuration(status: dict) -> None:
    """The run's full configuration, each option by its form label, and the command that trains it."""
    config = {**(status.get("model_config") or {}), **(status.get("train_config") or {})}
    if not config:
        return
    with st.expander(_("Configuration")):
        rows = [{"option": OPTIONS[name].label if name in OPTIONS else name, "value": str(value)}
                for name, value in config.items()]
        st.dataframe(rows, hide_index=True, key="run_configuration",
                     column_config={"option": st.column_config.TextColumn(label=_("option")),
                                    "value": st.column_config.TextColumn(label=_("value"))})
        if status.get("command"):
            st.code("python " + " ".join(status["command"]), language="bash", wrap_lines=True)


def explore_button(run_dir: Path) -> None:
    """Open the Latent page with this run's model picked in the sidebar."""
    checkpoint = str(run_dir / runfiles.CHECKPOINT)

    if st.button(_("Explore this model"), key="explore", type="primary", icon=":material/scatter_plot:",
                 on_click=pick_model, args=(checkpoint,), help=_("Opens the Latent page with this model.")):
        st.switch_page("app_pages/pages/latent.py")


def recorded_error(status: dict) -> str:
    """The run's error in the session's language: as vae.lifecycle read it, or as the training process recorded
    it (status.json's "error_message", vae.messages); else as status.json words it."""
    return said(status.get("error"), record=status.get("error_message"))


def outcome(run_dir: Path, status: dict, can_resume: bool) -> None:
    state = status.get("state")
    if state == "finished":
        st.success(_("Finished. The model is now in the sidebar's model menu."))
        explore_button(run_dir)
    elif state == "stopped":
        if status.get("interrupted"):
            st.warning(_("Interrupted: {error}.").format(error=escape_markdown(recorded_error(status))))
        elif not (run_dir / runfiles.CHECKPOINT).is_file():
            st.info(_("Stopped before its first checkpoint: nothing was saved."))
        else:
            st.info(_("Stopped. Its last checkpoint is in the sidebar's model menu."))
            explore_button(run_dir)
        if can_resume and roles.is_owner() and st.button(_("Resume training"), key="resume",
                                                         help=_("Continues from the last checkpoint.")):
            try:
                roles.resume_run(run_dir)
            except (ValueError, RuntimeError, OSError) as exc:
                st.error(_("Training was not resumed. {error}").format(error=escape_markdown(said(exc))))
                return
            st.rerun()
    elif state == "unreadable":
        st.error(_("This run folder cannot be read: {error}").format(error=escape_markdown(recorded_error(status))))
    elif state == "failed":
        st.error(_("The run failed: {error}").format(
            error=escape_markdown(recorded_error(status) if status.get("error") else _("no reason was recorded"))))
        log = run_dir / runfiles.LOG
        if log.is_file():
            with st.expander(_("The end of its log")):
                st.code("\n".join(log.read_text(errors="replace").splitlines()[-30:]) or _("(empty)"))


def run_view(run_dir: Path, was_running: bool) -> None:
    """Everything about one run, re-read from its folder on every (timed) rerun."""
    status = lifecycle.read_status(run_dir) or {}
    if was_running and status.get("state") != "running":
        st.rerun()                                   # the run ended: redraw the page without polling
    head, stop = st.columns([4, 1])
    head.subheader(_("Run {folder}: {state}").format(folder=escape_markdown(run_dir.name),
                                                     state=escape_markdown(catalog.state_name(status.get("state", "starting")))))
    name = runfiles.read_name(run_dir)
    if name:
        head.caption(escape_markdown(name))                   # the name given on the Runs page
    running = status.get("state") == "running"
    if running and roles.is_owner() and stop.button(_("Stop training"), key="stop",
                                                    help=_("Ends after the current step, keeping its checkpoint.")):
        try:
            roles.stop_run(run_dir)
        except roles.NotOwner as exc:
            st.error(str(exc))
        else:
            st.toast(_("Stopping after the current step…"))
    progress(status)
    configuration(status)
    outcome(run_dir, status, can_resume=not was_running and (run_dir / runfiles.CHECKPOINT).is_file())
    chart, words = st.columns([3, 2], gap="large")
    rows = runfiles.read_metrics(run_dir)
    if rows:
        chart.plotly_chart(plots.loss_chart(rows, _=_), key="loss_chart", config={"displayModeBar": False})
    else:
        chart.info(_("Waiting for the first losses…"))
    words.markdown(_(EXPLANATION))
    checkpoint = run_dir / runfiles.CHECKPOINT
    if checkpoint.is_file():
        try:
            strip = strip_reconstructions(str(checkpoint), checkpoint.stat().st_mtime)
        except CheckpointError as exc:
            st.warning(_("Its checkpoint cannot be used: {error}").format(error=escape_markdown(said(exc))))
            return
        saved_at = train_form.position(status, status.get("checkpoint_step"))   # the checkpoint's step, not the last one
        st.image(plots.enlarge(strip, 3), caption=_("Top: one test image of each class. Bottom: their reconstructions by "
                                                    "the latest checkpoint ({position}).").format(position=saved_at))
    replay_view(run_dir)


model_picker(header)
placeholder.empty()
root = catalog.runs_root()
current = lifecycle.active_run(root)
owner = roles.is_owner()
if current is not None:
    st.info(_("A run is going (below). Only one run trains at a time; stop it to start another.") if owner else
            _("A run is going (below). Only one run trains at a time."))
if owner:
    training_form(root, busy=current is not None)
else:
    roles.viewer_notice()
shown = current or next((run_dir for run_dir, _status in lifecycle.list_runs(root)), None)
if shown is None:
    st.caption(_("No runs yet. Runs are saved under `{folder}/` and keep going if you close this page.").format(
        folder=root))
else:
    is_running = current is not None
    st.fragment(run_every=1.0 if is_running else None)(run_view)(shown, is_running)

"""/runs: every training run, compared side by side, and any run's model as a download."""
import streamlit as st

from app_pages.common import page_header  # noqa: E402  (no torch: the title paints at once)
from app_pages.i18n import _, said  # noqa: E402

header = page_header(_("Runs"))
st.caption(_("Every training run under runs/: compare the test curves and final numbers of 2 to 5 of them, and "
             "download a run's model to share (the CLI's export: weights and description, no optimizer state)."))
placeholder = st.empty()
placeholder.caption(_("Reading the runs…"))

import html  # noqa: E402  (after the title: a cold start paints before torch has loaded)
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import plotly.graph_objects as go  # noqa: E402

from app_pages.common import escape_as_code, escape_markdown, model_picker, plain_text, test_set  # noqa: E402
from app_pages import catalog, roles  # noqa: E402
from vae import lifecycle, runfiles  # noqa: E402

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
NO_STATUS = "no status"     # a run folder with a checkpoint and no status.json (catalog.statusless_runs)

model_picker(header)                                          # this page needs no model, only the sidebar
placeholder.empty()
root = catalog.runs_root()
listed = lifecycle.list_runs(root) + [(run_dir, {"state": NO_STATUS}) for run_dir in catalog.statusless_runs(root)]
if not listed:
    st.info(_("No runs yet: start one on the Train page. Runs are saved under {folder}.").format(
        folder=escape_as_code(f"{root}/")))
    st.stop()


@st.cache_data(max_entries=16, show_spinner=False)       # the caller's spinner speaks the session's language
def latent_metrics(path: str, modified: float) -> dict:
    """What `python -m vae evaluate` adds to the loss (vae.evaluate.latent_metrics, as the CLI computes
    it), for one checkpoint version, under the table's names."""
    import vae
    from app_pages.explore import classifier
    from vae.classifier import predict
    from vae.data import load_dataset
    from vae.datasets import dataset_of
    from vae.evaluate import latent_metrics

    model, meta = vae.load_checkpoint(path)
    dataset = dataset_of(meta)
    images, labels = test_set(dataset)
    reader = classifier(dataset.name)
    result = latent_metrics(model, images, labels, train=load_dataset("train", dataset=dataset, fetch=False),
                            knn_k=5, classify=None if reader is None else (lambda x: predict(reader, x)))
    names = {"knn_accuracy": "5-NN accuracy", "class_agreement": "class agreement"}
    return {names[name]: value for name, value in result.items() if name in names}


def summary(run_dir: Path, status: dict) -> dict:
    config = status.get("model_config") or {}
    tests = [r for r in runfiles.read_metrics(run_dir) if r.get("split") == "test"]
    last = tests[-1] if tests else {}
    return {"run": run_dir.name, "name": runfiles.read_name(run_dir) or "", "state": status.get("state", "?"),
            "epochs": f"{status.get('epoch', '?')}/{status.get('epochs', '?')}",
            "model": f"{config.get('arch', '?')} z={config.get('latent_dim', '?')}",
            "test −ELBO": last.get("loss"), "recon": last.get("recon"), "KL": last.get("kl"),
            "checkpoint": (run_dir / runfiles.CHECKPOINT).is_file()}


# How both tables show each column (the values stay numbers, so they sort as numbers): nats to 2 decimals,
# the latent metrics (fractions) as percentages, the checkpoint as a tick. A column is named by its English
# word in the data, and headed in the session's language (label).
NATS = _("on the test set at the last epoch end, in nats per image")
COLUMNS = {"run": st.column_config.TextColumn(label=_("run")),
           "name": st.column_config.TextColumn(label=_("name")),
           "state": st.column_config.TextColumn(label=_("state")),
           "epochs": st.column_config.TextColumn(label=_("epochs")),
           "model": st.column_config.TextColumn(label=_("model")),
           "test −ELBO": st.column_config.NumberColumn(label=_("test −ELBO"), format="%.2f", help=NATS),
           "recon": st.column_config.NumberColumn(label=_("recon"), format="%.2f", help=NATS),
           "KL": st.column_config.NumberColumn(label=_("KL"), format="%.2f", help=NATS),
           "5-NN accuracy": st.column_config.NumberColumn(label=_("5-NN accuracy"), format="percent"),
           "class agreement": st.column_config.NumberColumn(label=_("class agreement"), format="percent"),
           "checkpoint": st.column_config.CheckboxColumn(label=_("checkpoint"))}


def table_view(table: list[dict]) -> None:
    present = {name for row in table for name in row}
    st.dataframe([{**row, "run": plain_text(row["run"]), "name": plain_text(row["name"]),
                   "state": catalog.state_name(row["state"])} for row in table],
                 hide_index=True, column_config={name: kind for name, kind in COLUMNS.items() if name in present})


rows = [summary(run_dir, status) for run_dir, status in listed]
table_view(rows)

st.subheader(_("Compare"))
names = [run_dir.name for run_dir, _status in listed]
chosen = st.multiselect(_("Runs to compare (2 to 5)"), names, default=names[:2] if len(names) >= 2 else names,
                        max_selections=5, key="compare", format_func=plain_text)
if len(chosen) >= 2:
    figure = go.Figure()
    for i, name in enumerate(chosen):
        tests = [r for r in runfiles.read_metrics(root / name) if r.get("split") == "test"]
        figure.add_trace(go.Scatter(x=[r.get("epoch") for r in tests], y=[r.get("loss") for r in tests],
                                    mode="lines+markers", name=html.escape(plain_text(name), quote=False),
                                    line=dict(color=PALETTE[i])))   # plotly reads <a href=…>, <b>… in names
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=_("epoch"),
                         yaxis_title=_("test −ELBO (nats per image)"), legend=dict(orientation="h", y=-0.25))
    st.plotly_chart(figure, config={"displayModeBar": False})
    table = [row for row in rows if row["run"] in chosen]
    if st.button(_("Also compute kNN accuracy and class agreement"), key="compare_more",
                 help=_("5-NN accuracy of the latent means (train → test) and how many reconstructions the shipped "
                        "classifier reads as their true class: a few seconds per run.")):
        for row in table:
            if row["checkpoint"]:
                path = root / row["run"] / runfiles.CHECKPOINT
                with st.spinner(_("Computing kNN accuracy and class agreement…")):
                    row.update(latent_metrics(str(path), path.stat().st_mtime))
    table_view(table)
elif names:
    st.caption(_("Pick at least two runs."))

st.subheader(_("Download a run's model"))
with_checkpoint = [row["run"] for row in rows if row["checkpoint"]]
if not with_checkpoint:
    st.caption(_("No run has saved a checkpoint yet."))
else:
    pick, half = st.columns([3, 2], vertical_alignment="bottom")
    name = pick.selectbox(_("Run"), with_checkpoint, key="export_run", format_func=plain_text)
    as_half = half.toggle(_("float16 (half the size)"), key="export_half")

    @st.cache_data(max_entries=4, show_spinner=False)
    def exported(path: str, modified: float, half: bool) -> bytes:
        from vae.checkpoint import export_checkpoint

        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "model.pt"
            export_checkpoint(path, target, half=half)
            return target.read_bytes()

    source = root / name / runfiles.CHECKPOINT
    try:
        with st.spinner(_("Exporting…")):
            data = exported(str(source), source.stat().st_mtime, as_half)
    except Exception as exc:                                   # a damaged or vanished checkpoint: say so
        st.error(_("This run's checkpoint cannot be exported: {error}").format(error=escape_markdown(said(exc))))
    else:
        st.download_button(_("Download {file} ({size} MB)").format(file=f"{escape_markdown(name)}.pt",
                                                                   size=f"{len(data) / 1e6:.1f}"),
                           data, f"{name}.pt", "application/octet-stream", key="export_download")
        st.caption(_("Open it with `vae.load_checkpoint(path)` or `python -m vae evaluate path`, or put it in "
                     "`runs/` of another copy of this app."))

st.subheader(_("Rename or delete a run"))
if not roles.is_owner():
    roles.viewer_notice()
    st.stop()
by_folder = {run_dir.name: status for run_dir, status in listed}
picked = st.selectbox(_("Run"), list(by_folder), help=_("By folder; its name is below."),
                      key="manage_run", format_func=plain_text)
run_dir = root / picked
name_column, rename_column = st.columns([3, 1], vertical_alignment="bottom")
new_name = name_column.text_input(_("Name"), value=runfiles.read_name(run_dir) or "", max_chars=runfiles.MAX_NAME,
                                  key=f"name_{picked}", placeholder=_("run {folder}").format(folder=plain_text(picked)),
                                  help=_("What the model menu and this page call the run; empty: its folder's name. "
                                         "The folder, and links to its model, stay as they are."))
if rename_column.button(_("Rename"), key="rename"):
    try:
        roles.rename_run(run_dir, new_name)
    except (ValueError, OSError) as exc:
        st.error(_("The run was not renamed. {error}").format(error=escape_markdown(said(exc))))
    else:
        st.rerun()

training = by_folder[picked].get("state") == "running"
if st.session_state.get("confirm_delete") != picked:
    st.button(_("Delete this run…"), key="delete", disabled=training, icon=":material/delete:",
              help=_("A run that is training cannot be deleted: stop it first.") if training else
                   _("Removes its folder: checkpoint, metrics and replay. You will be asked to confirm."),
              on_click=lambda: st.session_state.update(confirm_delete=picked))
else:
    st.warning(_("Delete {name} for good? Its folder {folder} goes, with its checkpoint, metrics and replay.").format(
        name=escape_markdown(catalog.run_label(run_dir)), folder=escape_as_code(picked)), icon=":material/delete_forever:")
    yes, no = st.columns(2)
    if yes.button(_("Yes, delete it"), key="delete_confirmed", type="primary"):
        st.session_state.pop("confirm_delete", None)
        try:
            roles.delete_run(run_dir, root)
        except (ValueError, RuntimeError, OSError) as exc:
            st.error(_("The run was not deleted. {error}").format(error=escape_markdown(said(exc))))
        else:
            st.toast(_("Deleted {folder}.").format(folder=escape_as_code(picked)))
            st.rerun()
    if no.button(_("Cancel"), key="delete_cancelled"):
        st.session_state.pop("confirm_delete", None)
        st.rerun()

"""Issue 17, 简体中文 and English: every string the dashboard shows is in every catalog, translated.

Two halves, each failing on its own kind of slip: a string marked for translation (_(), N_(), a training
option's words) that a catalog lacks, leaves empty or fuzzy, or translates with other placeholders
(Babel's extraction, as `make messages` runs it, against locale/*/LC_MESSAGES/messages.po); and a string
shown by a Streamlit call that nobody marked at all (an AST walk over the pages and their helpers)."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app_pages import i18n
from app_pages.i18n import N_

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = sorted(ROOT.glob("locale/*/LC_MESSAGES/messages.po"))
# Entries a catalog rightly leaves as in English: a symbol and the units of time, which keep their format.
SAME_AS_ENGLISH = {"zh_CN": {"KL", "KL {kl}", "{seconds} s", "{minutes} min", "{hours} h {minutes} min"}}


def extracted(root: Path = ROOT) -> dict[str, str]:
    """{msgid: where} of every message Babel extracts from `root` with the project's babel.cfg (a plural's
    singular msgid, which names its entry)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map, options_map, keywords={"_": None, "N_": None, "ngettext": (1, 2)}):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, f"{filename}:{lineno}")
    return found


def placeholders(text: str) -> set[str]:
    return {field for _literal, field, _spec, _conversion in string.Formatter().parse(text) if field is not None}


def catalog_problems(messages: dict[str, str], po: Path) -> list[str]:
    """What is wrong with catalog `po` for the extracted `messages`: missing, empty, fuzzy, or with a
    placeholder its msgid lacks (str.format would raise KeyError when the page shows it), or the English
    copied over (a translator's slip the page would show as if translated)."""
    with po.open("rb") as file:
        catalog = read_po(file)
    same = SAME_AS_ENGLISH.get(po.parent.parent.name, set())
    problems = []
    for text, where in messages.items():
        entry = catalog.get(text)
        if entry is None:
            problems.append(f"{where}: no entry for {text!r}")
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            problems.append(f"{where}: untranslated {text!r}")
        elif entry.fuzzy:
            problems.append(f"{where}: fuzzy {text!r}")
        elif entry.string == text and text not in same:
            problems.append(f"{where}: left in English {text!r}")
        else:
            known = set().union(*map(placeholders, entry.id if isinstance(entry.id, tuple) else (entry.id,)))
            for translated in entry.string if isinstance(entry.string, tuple) else (entry.string,):
                if extra := placeholders(translated) - known:
                    problems.append(f"{where}: {sorted(extra)} in the translation of {text!r}")
    return problems


def test_there_is_a_chinese_catalog():
    assert [po.parent.parent.name for po in CATALOGS] == ["zh_CN"]
    assert {folder for folder, _name in i18n.LANGUAGES.values() if folder} == {"zh_CN"}


def test_the_extraction_finds_the_pages_helpers_and_training_options():
    messages = extracted()
    wheres = {where.split(":")[0] for where in messages.values()}
    assert {"streamlit_app.py", "app_pages/pages/latent.py", "app_pages/common.py", "app_pages/train_form.py",
            "vae/options.py"} <= wheres, wheres
    assert "Latent plane" in messages and "Learning rate" in messages and len(messages) > 250
    assert "vae/web/words.js" in wheres and "Reset view" in messages     # the latent plane's own words
    # the vae package's messages that the pages show (vae/messages.py's N_), its options' refusals among them
    assert {"vae/checkpoint.py", "vae/data.py", "vae/preprocess.py", "vae/lifecycle.py", "vae/runfiles.py",
            "vae/memory.py", "vae/replay.py", "vae/train.py"} <= wheres, wheres
    assert "{label} ({flag}) must be {allowed}, got {value}" in messages and "The file is empty." in messages


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.parent.parent.name)
def test_every_extracted_string_has_a_translation(po):
    assert catalog_problems(extracted(), po) == []


@pytest.mark.parametrize("po", CATALOGS, ids=lambda po: po.parent.parent.name)
def test_every_catalog_compiles_as_make_does(po):
    """pybabel compile (make run, make test) refuses a catalog whose entry fails Babel's checks: a
    python-format flag (which `pybabel update` keeps from an old msgid) with other % conversions, say."""
    assert compile_errors(po.read_bytes()) == []
    planted = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n#, python-format\n'
               'msgid "{share} % of the map reads with at least 90 % confidence."\n'
               'msgstr "{share} % 的地图以至少 90 % 的置信度识别。"\n')
    assert compile_errors(planted.encode()) == [
        ("{share} % of the map reads with at least 90 % confidence.", ["placeholders are incompatible"])]


def compile_errors(po: bytes) -> list:
    import io

    catalog = read_po(io.BytesIO(po))
    return [(message.id, [str(error) for error in errors]) for message, errors in catalog.check()]


def test_a_new_string_or_an_emptied_translation_is_caught(tmp_path):
    """The planted bugs: a page with a marked string the catalog lacks, and an entry emptied or made fuzzy."""
    page = tmp_path / "app_pages" / "pages" / "new.py"
    page.parent.mkdir(parents=True)
    page.write_text('import streamlit as st\nfrom app_pages.i18n import _\nst.caption(_("A sentence nobody translated."))\n')
    assert [problem.split(": ", 1)[1] for problem in catalog_problems(extracted(tmp_path), CATALOGS[0])] == [
        "no entry for 'A sentence nobody translated.'"]

    text = CATALOGS[0].read_text(encoding="utf-8")
    emptied = tmp_path / "emptied" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    emptied.parent.mkdir(parents=True)
    emptied.write_text(text.replace('msgid "Compare"\nmsgstr "比较"', 'msgid "Compare"\nmsgstr ""', 1), encoding="utf-8")
    fuzzy = tmp_path / "fuzzy" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    fuzzy.parent.mkdir(parents=True)
    fuzzy.write_text(text.replace('msgid "Latent plane"', '#, fuzzy\nmsgid "Latent plane"', 1), encoding="utf-8")
    wrong = tmp_path / "wrong" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    wrong.parent.mkdir(parents=True)
    wrong.write_text(text.replace('msgstr "运行 {folder}"', 'msgstr "运行 {name}"', 1), encoding="utf-8")
    copied = tmp_path / "copied" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    copied.parent.mkdir(parents=True)
    copied.write_text(text.replace('msgid "Compare"\nmsgstr "比较"', 'msgid "Compare"\nmsgstr "Compare"', 1),
                      encoding="utf-8")
    messages = extracted()
    assert [problem.split(": ", 1)[1] for problem in catalog_problems(messages, emptied)] == ["untranslated 'Compare'"]
    assert [problem.split(": ", 1)[1] for problem in catalog_problems(messages, fuzzy)] == ["fuzzy 'Latent plane'"]
    assert [problem.split(": ", 1)[1] for problem in catalog_problems(messages, wrong)] == [
        "['name'] in the translation of 'run {folder}'"]
    assert [problem.split(": ", 1)[1] for problem in catalog_problems(messages, copied)] == [
        "left in English 'Compare'"]


# Unmarked strings: a literal with words given to a Streamlit call that shows text. Its first argument for
# the calls whose first argument is text, and the keywords that are text in any call.
SHOWN_FIRST = {"title", "header", "subheader", "caption", "markdown", "write", "text", "info", "warning", "error",
               "success", "toast", "exception", "button", "download_button", "form_submit_button", "link_button",
               "toggle", "checkbox", "radio", "selectbox", "multiselect", "slider", "select_slider", "number_input",
               "text_input", "text_area", "file_uploader", "expander", "popover", "spinner", "tabs", "metric",
               "segmented_control", "pills", "progress", "status"}
SHOWN_KEYWORDS = {"label", "help", "caption", "placeholder", "text", "title", "page_title", "xaxis_title",
                  "yaxis_title", "hovertemplate"}
# The language menu's own label names it in both languages on purpose (hidden, for screen readers).
BILINGUAL = {"Language / 语言"}
SOURCES = [ROOT / "streamlit_app.py"] + sorted(
    path for path in (ROOT / "app_pages").rglob("*.py")
    if "plane" not in path.relative_to(ROOT / "app_pages").parts and path.name != "layout.py")


def words_in(node: ast.AST) -> list[str]:
    """The literal strings with words in an expression, not looking into calls (_("…"), escape_markdown(…))."""
    if isinstance(node, ast.Constant):              # words, not markup: "<extra></extra>" is none
        return [node.value] if isinstance(node.value, str) and re.search(r"[A-Za-z]{2}", re.sub("<[^>]*>", "", node.value)) else []
    if isinstance(node, (ast.Call, ast.Subscript)):   # frames["latent_dim"] shows a value, not its key
        return []
    return [text for child in ast.iter_child_nodes(node) for text in words_in(child)]


def unmarked(source: str, filename: str = "<page>") -> list[str]:
    """'file:line: text' for each literal with words that a Streamlit call would show untranslated."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        shown = [node.args[0]] if node.func.attr in SHOWN_FIRST and node.args else []
        shown += [keyword.value for keyword in node.keywords if keyword.arg in SHOWN_KEYWORDS]
        if node.func.attr == "Scatter":                          # a chart's legend entries
            shown += [keyword.value for keyword in node.keywords if keyword.arg == "name"]
        shown += [value for keyword in node.keywords    # format_func={"dims": "…"}.get
                  if keyword.arg == "format_func" and isinstance(keyword.value, ast.Attribute)
                  and isinstance(keyword.value.value, ast.Dict) for value in keyword.value.value.values]
        found += [f"{filename}:{node.lineno}: {text}" for value in shown for text in words_in(value)
                  if text not in BILINGUAL]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_page_shows_an_unmarked_string(path):
    assert unmarked(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


@pytest.mark.parametrize("source", [
    'st.caption("Loading the model…")',
    'st.error(f"The run failed: {error}")',
    'st.info(_("A run is going.") + " Stop it first.")',
    'row.button("Rename", key="rename")',
    'st.image(picture, caption="your picture")',
    'st.number_input(_("Seed"), 0, 9, help="The same seed draws the same samples.")',
    'st.radio(_("View"), ["dims", "pca"], format_func={"dims": "two latent dimensions", "pca": _("PCA")}.get)',
    'go.Scatter(x=x, y=y, name="train −ELBO")',
    'figure.update_layout(xaxis_title="epoch")',
    'st.tabs(["Manifold", _("Sample")])',
], ids=["caption", "f-string", "concatenated", "button", "image-caption", "help", "format-func", "legend",
        "axis-title", "tabs"])
def test_an_unmarked_string_is_caught(source):
    assert len(unmarked(source)) == 1


def test_marked_and_wordless_strings_pass():
    assert unmarked('st.caption(_("Loading the model…"))\nst.error(f"{escape_as_code(name)}: {exc}")\n'
                    'st.radio(_("View"), ["dims", "pca"], key="view_kind")\n'
                    'st.markdown(_("**1. Encode.** μ = {mean}").format(mean=vector(mean)))\n'
                    'st.latex(r"z = \\mu + \\sigma \\odot \\varepsilon")\n') == []


@pytest.mark.parametrize("tag, language", [("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("zh", "zh-CN"),
                                           ("zh-Hans-CN", "zh-CN"), ("ZH-cn", "zh-CN"), ("en-US", "en"),
                                           ("en", "en"), ("de-DE", None), ("", None), (None, None)])
def test_a_language_tag_picks_an_offered_language(tag, language):
    assert i18n.match_language(tag) == language


def test_a_catalog_compiled_in_memory_translates(tmp_path):
    """Without a .mo (a fresh clone run without make) the .po is compiled in memory, fuzzy entries left out."""
    import gettext
    import io

    po = tmp_path / "messages.po"
    po.write_text(CATALOGS[0].read_text(encoding="utf-8").replace(
        'msgid "Compare"', '#, fuzzy\nmsgid "Compare"', 1), encoding="utf-8")
    translations = gettext.GNUTranslations(io.BytesIO(i18n.compile_po(po)))
    assert translations.gettext("Latent plane") == "潜在平面"
    assert translations.gettext("run {folder}").format(folder="a") == "运行 a"
    assert translations.gettext("Compare") == "Compare"


def test_a_count_takes_its_plural_in_english_and_one_form_in_chinese():
    from app_pages.catalog import epochs_text

    assert [epochs_text(1), epochs_text(60), epochs_text(1, of=1), epochs_text(2, of=5), epochs_text(None)] == [
        "1 epoch", "60 epochs", "1/1 epoch", "2/5 epochs", "None epochs"]
    chinese = i18n.translations("zh-CN")
    assert [chinese.ngettext("{epochs} epoch", "{epochs} epochs", n).format(epochs=n) for n in (1, 60)] == [
        "1 轮", "60 轮"]


# The vae package's messages (vae/messages.py): each one the pages may show is made with say(N_("…")), so that
# it reaches the catalog and app_pages.i18n.said can say it in the session's language; the CLI prints the English.
VAE = sorted(path for path in (ROOT / "vae").glob("*.py"))
# Raised with English that no page shows: the CLI's flags and torchrun's environment, the downloads of `python -m
# vae data` (the dashboard never downloads), programming errors, and what another message wraps as a detail.
CLI_ONLY = {"vae/__init__.py", "vae/blobs.py", "vae/cli.py", "vae/distributed.py", "vae/evaluate.py",
            "vae/inference.py", "vae/classifier.py",
            "vae/data.py:_write_verified", "vae/data.py:fetch_from_pypi", "vae/data.py:fetch_from_local_copy",
            "vae/data.py:ensure_data:Could not obtain", "vae/data.py:load_dataset",
            "vae/export.py:_view_choice", "vae/preprocess.py:_png_by_bands",
            "vae/session.py:_run_configs:; start a new run",
            "vae/session.py:_resumed_epochs", "vae/train.py:__init__"}


def unmarked_messages(source: str, filename: str) -> list[str]:
    """'file:function: text' for each exception raised (and each say()) with English not marked by N_."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            visit(child, child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function)
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            text = node.exc.args[0]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "say" and node.args:
            text = node.args[0]
            if isinstance(text, ast.IfExp):                       # say(N_("a") if … else N_("b"), …)
                text = text.body if not _marked(text.body) else text.orelse
        else:
            return
        if _marked(text) or not words_in(text) and not isinstance(text, ast.JoinedStr):
            return
        shown, where = ast.unparse(text)[:60], f"{filename}:{function}"
        if not any(allowed in (filename, where) or allowed.startswith(where + ":") and allowed[len(where) + 1:] in shown
                   for allowed in CLI_ONLY):
            found.append(f"{where}: {shown}")

    visit(ast.parse(source), "<module>")
    return found


def _marked(node) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("N_", "say")


@pytest.mark.parametrize("path", VAE, ids=lambda path: path.name)
def test_the_vae_packages_messages_are_marked_for_translation(path):
    assert unmarked_messages(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


def test_an_unmarked_message_of_the_vae_package_is_caught():
    """The planted bugs: a refusal raised as an f-string, and a say() whose template N_ does not mark."""
    source = """
def load(path):
    raise CheckpointError(f"{path}: no such checkpoint file")
def rename(name):
    raise ValueError(say("A run's name is {name}.", name=name))
def fine(path):
    raise CheckpointError(say(N_("{path}: {problem}"), path=path, problem=say(N_("no such checkpoint file"))))
"""
    assert unmarked_messages(source, "vae/lifecycle.py") == [
        "vae/lifecycle.py:load: f'{path}: no such checkpoint file'",
        "vae/lifecycle.py:rename: \"A run's name is {name}.\""]


def test_said_translates_the_vae_packages_messages_and_their_parts(monkeypatch):
    """app_pages.i18n.said: an exception's message in the session's language, each part that is a message
    itself translated too (a refusal's label, range and reason), the English in an English session."""
    from vae.checkpoint import CheckpointError, load_plain
    from vae.messages import from_json, say
    from vae.options import refusal

    monkeypatch.setattr(i18n, "language", lambda: "zh-CN")
    assert i18n.said(refusal("latent_dim", 1)) == (
        "潜在空间大小（--latent-dim）必须在 2 到 64 之间，实际为 1：仪表板把潜在空间画成由其中两个维度构成的平面")
    assert i18n.said(refusal("lr", 0.0)) == "学习率（--lr）必须大于 0 且至多为 1，实际为 0.0"
    with pytest.raises(CheckpointError) as raised:
        load_plain("/nowhere/x.pt")
    assert i18n.said(raised.value) == "/nowhere/x.pt：没有这个检查点文件"
    record = say(N_("{kind}: {reason}"), kind="TrainingDiverged", reason=say(N_("training {why}, after epoch {epoch}; {remedy}"),
                 why="x", epoch="2", remedy=say(N_("try a lower learning rate than {lr}"), lr="0.5"))).to_json()
    assert i18n.said("TrainingDiverged: training x, after epoch 2; try …", record=record) == (
        "TrainingDiverged：训练在第 2 轮之后x；请尝试比 0.5 更低的学习率")
    # a record from a file is said only with templates of the catalog: a made-up one stays the recorded English
    assert i18n.said("as recorded", record={"id": "{x:>999999999}", "params": {"x": 1}}) == "as recorded"
    assert from_json({"id": "{x:>999999999}", "params": {"x": 1}}, known=lambda t: False) is None
    assert i18n.said(OSError("disk full")) == "disk full" and i18n.said(None) == "None"

    monkeypatch.setattr(i18n, "language", lambda: "en")
    assert i18n.said(refusal("lr", 0.0)) == "Learning rate (--lr) must be greater than 0 and at most 1, got 0.0"
    assert i18n.said(raised.value) == "/nowhere/x.pt: no such checkpoint file"


def test_a_message_is_the_english_and_travels_whole():
    """vae.messages.Message is the English str itself (the CLI, str(exception), status.json's "error"), and keeps
    its template and values through pickling (Streamlit's caches) and JSON (status.json's "error_message")."""
    import json
    import pickle

    from vae.messages import Message, from_json, message_of, say

    message = say(N_("{run} is not a run folder"), run=say(N_("unknown")))
    assert message == "unknown is not a run folder" and isinstance(message, str)
    for copy in (pickle.loads(pickle.dumps(message)), from_json(json.loads(json.dumps(message.to_json())))):
        assert isinstance(copy, Message) and copy == message and copy.template == message.template
        assert isinstance(copy.params["run"], Message)
    assert message_of(ValueError(message)) is message and message_of(ValueError("plain")) is None
    assert from_json({"id": "{a}", "params": {"a": [1]}}) is None and from_json({"id": "{a}", "params": {}}) is None

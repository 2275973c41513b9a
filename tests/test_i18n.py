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

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = sorted(ROOT.glob("locale/*/LC_MESSAGES/messages.po"))
# Entries a catalog rightly leaves as in English: a symbol and the units of time, which keep their format.
SAME_AS_ENGLISH = {"zh_CN": {"KL", "{seconds} s", "{minutes} min", "{hours} h {minutes} min"}}


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

"""The dashboard's languages: gettext catalogs under locale/ (Babel extracts and compiles them, README:
简体中文), the language of each session, and the switch that changes it.

A session's language is, in this order: the switch, once used; ?lang= in the link it arrived with
(zh-CN, en); the browser's language (st.context.locale, navigator.language); English. English is the
source text, so it needs no catalog. Pages mark their text with _() and ngettext(), called when the page
runs (never at import, which happens once for every session); a string made at import time is marked
with N_() and translated where it is shown.

The .mo files are compiled from the .po files by `make` (pybabel compile). Where one is missing or older
than its .po (a run of pytest or streamlit without make), the .po is compiled here, in memory."""
from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

import streamlit as st

from app_pages.state import first_visit_param, publish

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"
ENGLISH = "en"
# Each language the switch offers: its tag in links (BCP 47, as browsers give it), its catalog's folder
# under locale/ (None: the source text) and its name, in itself. A third language is one more line here
# and one more catalog.
LANGUAGES = {
    "en": (None, "English"),
    "zh-CN": ("zh_CN", "简体中文"),
}
CHOSEN = "language"            # session state: the language of this session, once decided
SWITCH = "language_switch"     # the switch's widget key


def N_(message: str) -> str:
    """Marks `message` for extraction where it cannot be translated yet (made at import); _() it when shown."""
    return message


def match_language(tag: str | None) -> str | None:
    """The offered language for a language tag ("zh-CN", "zh_cn", "zh-Hans-CN", "en-GB", "zh"), by the whole
    tag and then by its primary language; None when none matches."""
    if not isinstance(tag, str) or not tag.strip():
        return None
    wanted = tag.strip().replace("_", "-").lower()
    by_lower = {code.lower(): code for code in LANGUAGES}
    if wanted in by_lower:
        return by_lower[wanted]
    primary = wanted.split("-")[0]
    return next((code for code in LANGUAGES if code.lower().split("-")[0] == primary), None)


def browser_language() -> str:
    """The language the browser asks for (st.context.locale), or English."""
    try:
        locale = st.context.locale
    except Exception:              # no browser context (a bare script run)
        locale = None
    return match_language(locale) or ENGLISH


def language() -> str:
    """This session's language: decided on its first call (?lang= of the arrival link, else the browser's
    language, else English), then kept until the switch changes it."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return ENGLISH                 # no session: a test or a script calling the app's helpers
    chosen = st.session_state.get(CHOSEN)
    if chosen not in LANGUAGES:
        chosen = match_language(first_visit_param("lang")) or browser_language()
        st.session_state[CHOSEN] = chosen
    return chosen


@functools.cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalog of language `code` (one of LANGUAGES), read once per server; English's is the source."""
    folder = LANGUAGES[code][0]
    if folder is None:
        return gettext.NullTranslations()
    messages = LOCALE_DIR / folder / "LC_MESSAGES"
    po, mo = messages / f"{DOMAIN}.po", messages / f"{DOMAIN}.mo"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as file:
            return gettext.GNUTranslations(file)
    return gettext.GNUTranslations(io.BytesIO(compile_po(po)))


def compile_po(po: Path) -> bytes:
    """The .mo of a .po, as `pybabel compile` writes it (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as file:
        catalog = read_po(file)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def _(message: str) -> str:
    """`message` in this session's language (itself where the catalog lacks it)."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the count `n`, in this session's language (Chinese has one form)."""
    return translations(language()).ngettext(singular, plural, n)


def said(value, record=None) -> str:
    """What the vae package said, in this session's language: a message (vae.messages), the one an exception
    was raised with, or (`record`, status.json's "error_message") the one a training process recorded; else
    `value` as it is (English: an OSError's words, an older run's status). A message's template is looked up
    in the catalog and its values filled in, each value that is a message said the same way."""
    from vae.messages import from_json, message_of

    message = message_of(value)
    if message is None and record is not None and language() != ENGLISH:
        message = from_json(record, known=_known)     # a template from a file: only one the catalog has
    return str(value) if message is None else _said(message)


def _said(message) -> str:
    from vae.messages import Message

    params = {name: _said(value) if isinstance(value, Message) else value for name, value in message.params.items()}
    try:
        return _(message.template).format(**params)
    except (KeyError, IndexError, ValueError):        # a translation with other fields: the English, not nothing
        return str(message)


def _known(template: str) -> bool:
    """Whether `template` is a message of this session's catalog."""
    return template in getattr(translations(language()), "_catalog", {})


def extract_options(fileobj, keywords, comment_tags, options):
    """A Babel extractor for vae/options.py (babel.cfg): each training option's label and help, which the
    training form shows in the session's language (app_pages.train_form.widget), then the file's messages
    marked with N_ (its refusals, vae.messages). The table stays the CLI's, in English; its words reach the
    catalog from here."""
    from babel.messages.extract import extract_python

    from vae.options import OPTIONS

    source = fileobj.read()
    lines = source.decode("utf-8").splitlines()
    for name, option in OPTIONS.items():
        lineno = next((number for number, line in enumerate(lines, 1) if line.strip().startswith(f'"{name}":')), 1)
        for text in (option.label, option.help):
            yield lineno, None, text, [f"The training option {name}: its {'label' if text == option.label else 'help'}."]
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)


def extract_plane_words(fileobj, keywords, comment_tags, options):
    """A Babel extractor for vae/web/words.js (babel.cfg): the latent plane's own words, which
    app_pages.plane sends the browser translated (plane_strings); the exported one-file explorer keeps
    the file's English."""
    from vae.web import words

    for key, (lineno, text) in words(fileobj.read().decode("utf-8")).items():
        yield lineno, None, text, [f"The latent plane's words ({key}); {{…}} is a value the plane fills in."]


def language_switch(where=None) -> None:
    """The language menu (in the page's header row `where`); its choice is the session's language from
    the next line on, and goes into the link (?lang=) when it differs from the browser's language, so that
    a reload or a shared link keeps it. The model and the view are session state: a change keeps them."""
    current = language()
    st.session_state[SWITCH] = current     # always: on another page the menu is a new widget, which would start at English

    def switched() -> None:
        st.session_state[CHOSEN] = st.session_state[SWITCH]

    (where if where is not None else st).selectbox(
        "Language / 语言", list(LANGUAGES), format_func=lambda code: LANGUAGES[code][1], key=SWITCH,
        on_change=switched, label_visibility="collapsed", width=120)
    publish(lang=None if current == browser_language() else current)

"""app_pages.common's escaping: text from outside (a link's ?model=, a run's folder, name or status.json, an
upload's file name) shown as itself where Streamlit renders Markdown.

Streamlit 1.67 parses Markdown (CommonMark: a backslash escapes any ASCII punctuation), then runs
transforms over the parsed text, where the escapes are already undone: GFM's literal autolinks
(mdast-util-gfm-autolink-literal) and its :emoji: and :material/icon: shortcodes. The patterns below
are theirs; tests/browser/test_outside_text_browser.py checks the rendered page itself."""
import re

import pytest

from app_pages.common import escape_as_code, escape_markdown, plain_text

PUNCTUATION = r"[!-/:-@\[-`{-~]"
HOSTILE = [
    "[Session expired: click to sign in again](http://evil.example/login)",
    "![a](http://evil.example/z.png)",
    "<img src=x onerror=alert(1)>", "<a href='http://evil.example'>x</a>", "<http://evil.example>",
    ":red[x] :smile: :material/home: :+1:", "$x^2$ and $$y$$", "**b** _i_ ~~s~~ `c`", "# head", "- item", "1. item",
    "a | b\n---|---\nc | d", "x\\y \\[", "&lt;b&gt; &#58;", "http://evil.example/x", "HTTPS://evil.example",
    "see www.evil.example", "WWW.evil.example/x", "mail a@evil.example", "mailto:a@evil.example",
    "xmpp:a@evil.example", "name\u202eexe.png", "\u2066left\u2069 \u200eto\u200f right", "mnist\u200b-2d",
]
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def unescaped(markdown: str) -> str:
    """The text CommonMark leaves of `markdown` with every punctuation character escaped."""
    return re.sub(r"\\(" + PUNCTUATION + ")", r"\1", markdown)


@pytest.mark.parametrize("text", HOSTILE)
def test_every_markdown_character_is_escaped(text):
    assert re.fullmatch(r"(?:\\" + PUNCTUATION + "|[^!-~]|[0-9A-Za-z ])*", escape_markdown(text).replace("\n", " "))


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_reads_as_the_original(text):
    assert unescaped(escape_markdown(text)).replace("\u2060", "") == plain_text(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_no_autolink_email_or_shortcode_is_left_once_escapes_are_undone(text):
    shown = unescaped(escape_markdown(text))
    assert not re.search(r"(https?://|www(?=\.))", shown, re.IGNORECASE), shown
    assert not re.search(r"[-.+\w]+@[-\w]+(?:\.[-\w]+)+", shown, re.ASCII), shown
    assert not re.search(r"(mailto|xmpp):[-.+\w]", shown, re.IGNORECASE), shown
    assert not re.search(r":[\w+-]+:", shown) and ":material/" not in shown, shown


def test_bidi_controls_and_invisible_characters_are_dropped():
    assert plain_text("run" + BIDI + "\u200b\u2060\ufeff\x1b\x00x") == "runx"
    assert plain_text("a\tb\nc") == "a\tb\nc"
    assert plain_text("👩\u200d💻") == "👩\u200d💻"                       # the joiner glues emoji
    assert escape_markdown("name\u202eexe.png") == "name" + "exe\\.png"
    assert plain_text(3) == "3" and escape_markdown(ValueError("a.b")) == "a\\.b"


def code_content(markdown: str) -> str:
    """What CommonMark shows of `markdown` if it is one code span and nothing else; fails otherwise."""
    fence = re.match("`+", markdown).group()
    assert markdown.startswith(fence + " ") and markdown.endswith(" " + fence), markdown
    inner = markdown[len(fence) + 1:-len(fence) - 1]
    assert fence not in re.findall("`+", inner) and "\n" not in inner, markdown
    return inner


@pytest.mark.parametrize("text", HOSTILE + ["a`b", "``x`", "`", "x\n\n[x](http://evil.example/2)", ""])
def test_a_code_span_holds_the_text_as_it_is_on_one_line(text):
    assert code_content(escape_as_code(text)).replace(":\u2060material/", ":material/") == \
        plain_text(text).replace("\n", " ")

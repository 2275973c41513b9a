"""Issue 17, 简体中文 and English, through AppTest: ?lang=zh-CN or a Chinese browser opens every page in
Chinese with no sentence of the English catalog left, English stays the default, and the language menu
changes the language and keeps the model, the pin and the link."""
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from app_pages import i18n
from test_pages import PAGES, messages

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TITLES = {"app_pages/pages/home.py": ("VAE Latent Explorer", "VAE 潜在空间探索器"),
          "app_pages/pages/train.py": ("Train a VAE", "训练 VAE"),
          "app_pages/pages/latent.py": ("The latent plane", "潜在平面"),
          "app_pages/pages/reconstruct.py": ("Reconstruct an image", "重构一张图像"),
          "app_pages/pages/elbo.py": ("The ELBO, live", "ELBO，实时"),
          "app_pages/pages/runs.py": ("Runs", "运行")}


def english_sentences() -> list[str]:
    """The catalog's English sentences (four words or more) up to their first placeholder: none of them may
    show on a page in Chinese."""
    with (ROOT / "locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as file:
        catalog = read_po(file)
    sentences = {text.split("{")[0].strip() for entry in catalog if entry.id and entry.string != entry.id
                 for text in (entry.id if isinstance(entry.id, tuple) else (entry.id,))}
    return sorted(s for s in sentences if len(s.split()) >= 4)


def shown_text(app) -> list[str]:
    """What a page shows in words: titles, headings, text blocks, messages, and every widget's label and help."""
    texts = [element.value for kind in (app.title, app.subheader, app.caption, app.markdown, app.info, app.warning,
                                        app.error, app.success) for element in kind]
    widgets = [*app.button, *app.selectbox, *app.radio, *app.slider, *app.number_input, *app.toggle,
               *app.text_input, *app.multiselect]
    texts += [text for widget in widgets for text in (widget.label, getattr(widget, "help", None)) if text]
    texts += [str(option) for widget in (*app.radio, *app.selectbox) for option in widget.options]
    texts += [expander.label for expander in app.expander]
    return texts


def opened(page: str, lang: str | None = None, locale: str | None = None, **params) -> AppTest:
    """The whole app on `page`, arriving with ?lang=`lang` (and `params`) from a browser in `locale`."""
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for name, value in {**({"lang": lang} if lang else {}), **params}.items():
        app.query_params[name] = value
    if locale:
        app.context = {"locale": locale}
    return app.switch_page(page).run()


@pytest.fixture
def fresh(runs_dir, monkeypatch):
    import streamlit as st

    monkeypatch.chdir(ROOT)
    st.cache_data.clear()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_each_page_opens_in_chinese_with_no_english_sentence_left(fresh, page):
    app = opened(page, lang="zh-CN")
    assert messages(app) == {"exception": [], "error": []}
    english, chinese = TITLES[page]
    assert app.title[0].value == chinese
    shown = shown_text(app)
    assert sum(bool(CHINESE.search(text)) for text in shown) >= 3, shown
    left = [(sentence, text) for sentence in english_sentences() for text in shown if sentence in text]
    assert left == []
    assert app.query_params["lang"] == "zh-CN"                # a reload or a shared link keeps it


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_each_page_is_english_by_default(fresh, page):
    app = opened(page)
    assert messages(app) == {"exception": [], "error": []}
    assert app.title[0].value == TITLES[page][0]
    menu = {"Language / 语言", "简体中文"}                        # the language menu names itself in both
    assert [text for text in shown_text(app) if CHINESE.search(text) and text not in menu] == []
    assert "lang" not in app.query_params


@pytest.mark.parametrize("locale, lang, title, link", [
    ("zh-CN", None, "潜在平面", None),            # the browser's language, which the link need not name
    ("zh", None, "潜在平面", None),
    ("zh-CN", "zh-CN", "潜在平面", None),
    ("en-US", None, "The latent plane", None),
    ("de-DE", None, "The latent plane", None),    # no catalog: English
    ("zh-CN", "en", "The latent plane", "en"),    # the link before the browser, and kept in the link
    ("en-GB", "zh-CN", "潜在平面", "zh-CN"),
    ("en-GB", "zh_cn", "潜在平面", "zh-CN"),
    ("zh-CN", "xx", "潜在平面", None),             # a language not offered: the browser's
], ids=["browser", "browser-zh", "link-as-browser", "browser-en", "browser-de", "link-en", "link-zh",
        "link-underscore", "link-unknown"])
def test_the_link_then_the_browser_then_english_decide(fresh, locale, lang, title, link):
    app = opened("app_pages/pages/latent.py", lang=lang, locale=locale)
    assert app.title[0].value == title
    assert app.query_params.get("lang") == link


def test_the_switch_changes_the_language_and_keeps_the_model_pin_and_view(fresh):
    app = opened("app_pages/pages/latent.py", model="fashion-mnist-2d", z="1.5,-0.5", tab="Sample")
    assert app.title[0].value == "The latent plane" and app.session_state["checkpoint"].endswith("fashion-mnist-2d.pt")
    app.selectbox(key=i18n.SWITCH).set_value("zh-CN").run()
    assert messages(app) == {"exception": [], "error": []}
    assert app.title[0].value == "潜在平面"
    assert app.session_state["checkpoint"].endswith("fashion-mnist-2d.pt")
    assert app.session_state["pin"].xy == (1.5, -0.5) and app.session_state["open_tab"] == "Sample"
    assert [tab.label for tab in app.tabs][:2] == ["流形", "采样"]
    assert {name: app.query_params.get(name) for name in ("model", "z", "tab", "lang")} == {
        "model": "fashion-mnist-2d", "z": "1.5000,-0.5000", "tab": "Sample", "lang": "zh-CN"}

    app.switch_page("app_pages/pages/reconstruct.py").run()            # the language follows to the next page
    assert app.title[0].value == "重构一张图像"
    assert app.session_state["checkpoint"].endswith("fashion-mnist-2d.pt")
    app.selectbox(key=i18n.SWITCH).set_value("en").run()
    assert app.title[0].value == "Reconstruct an image" and "lang" not in app.query_params
    assert app.session_state["checkpoint"].endswith("fashion-mnist-2d.pt")


def test_a_choice_made_in_one_language_stays_in_the_other(fresh):
    """The radios' values are their English words in both languages: the Reconstruct page's source survives
    the switch, shown in the new language."""
    app = opened("app_pages/pages/reconstruct.py")
    app.radio(key="source").set_value("A test digit").run()
    app.selectbox(key=i18n.SWITCH).set_value("zh-CN").run()
    assert app.radio(key="source").value == "A test digit"
    assert app.radio(key="source").options == ["上传图片", "用鼠标画", "一个测试数字"]
    assert any("测试数字" in widget.label for widget in app.number_input)


def plane_payloads(app) -> list[dict]:
    import json

    return [json.loads(element.proto.json) for element in app.get("bidi_component")]


def test_the_planes_own_words_go_to_the_browser_in_chinese(fresh):
    """The plane's captions, buttons, legend, help and messages (vae/web/words.js) come in the payload's
    `strings`, each in the session's language; every one is translated, and Fashion-MNIST's class names too."""
    from vae import web

    english = {key: text for key, (_line, text) in web.words().items()}
    app = opened("app_pages/pages/latent.py", lang="zh-CN", model="fashion-mnist-2d")
    assert messages(app) == {"exception": [], "error": []}
    [data] = plane_payloads(app)
    assert set(data["strings"]) == set(english)
    assert [key for key, text in data["strings"].items() if text == english[key]] == []
    assert sum(bool(CHINESE.search(text)) for text in data["strings"].values()) >= len(english) - 1   # all but "{where}：…"
    assert data["strings"]["reset_view"] == "重置视图" and data["strings"]["legend_class"] == "类别："
    assert data["class_names"][:2] == ["T恤/上衣", "裤子"] and data["class_names"][-1] == "短靴"

    app = opened("app_pages/pages/latent.py", model="fashion-mnist-2d")          # English: the words as written
    [data] = plane_payloads(app)
    assert data["strings"] == english and data["class_names"][-1] == "Ankle boot"

"""Issue 17, 简体中文 and English, through AppTest: ?lang=zh-CN or a Chinese browser opens every page in
Chinese with no sentence of the English catalog left, English stays the default, and the language menu
changes the language and keeps the model, the pin and the link."""
import json
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from app_pages import i18n
from test_i18n import SAME_AS_ENGLISH
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
    """The catalog's English sentences (four words or more) between its placeholders: none of them may show
    on a page in Chinese."""
    with (ROOT / "locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as file:
        catalog = read_po(file)
    sentences = {part.strip() for entry in catalog if entry.id and entry.string != entry.id
                 for text in (entry.id if isinstance(entry.id, tuple) else (entry.id,))
                 for part in re.split(r"\{\w*\}", text)}
    return sorted(s for s in sentences if len(s.split()) >= 4)


# A run of three English words or more (as the Chinese browser walk looks for them), in text read without
# Markdown's escapes: a message of the vae package shown in English inside a Chinese sentence.
ENGLISH_RUN = re.compile(r"(?<![\w/.-])[A-Za-z][a-z'’]*(?:[ \t]+[A-Za-z][a-z'’]*){2,}(?![\w/.-])")


def english_runs(text: str) -> list[str]:
    return ENGLISH_RUN.findall(re.sub(r"\\(.)", r"\1", text).replace("\u2060", ""))


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
    same = SAME_AS_ENGLISH["zh_CN"]                                  # "KL {kl}" reads the same in Chinese
    assert [key for key, text in data["strings"].items() if text == english[key] and text not in same] == []
    assert sum(bool(CHINESE.search(text)) for text in data["strings"].values()) >= len(
        [text for text in english.values() if text not in same]) - 1                     # all but "{where}：…"
    assert data["strings"]["reset_view"] == "重置视图" and data["strings"]["legend_class"] == "类别："
    assert data["class_names"][:2] == ["T恤/上衣", "裤子"] and data["class_names"][-1] == "短靴"

    app = opened("app_pages/pages/latent.py", model="fashion-mnist-2d")          # English: the words as written
    [data] = plane_payloads(app)
    assert data["strings"] == english and data["class_names"][-1] == "Ankle boot"


# The vae package's messages (vae/messages.py) in a Chinese session: a refused training option, missing data, a
# checkpoint that will not open, a run that failed, was cut off or cannot be read, an upload that is no picture.
# Each shows in Chinese (app_pages.i18n.said), its English nowhere; English sessions keep the English (test_pages).

def failed_run(runs_dir: Path) -> None:
    """A run that failed in its training process (a NaN loss at step 4, planted as test_cli does): its
    status.json records the error in English and as vae.messages keeps it."""
    import vae.train
    from test_cli import SHORT
    from vae.cli import main

    calls, elbo = [], vae.train.negative_elbo

    def nan_from_step_4(*args, **kwargs):
        calls.append(1)
        loss, recon, kl = elbo(*args, **kwargs)
        return (loss * float("nan"), recon * float("nan"), kl) if len(calls) >= 4 else (loss, recon, kl)

    vae.train.negative_elbo = nan_from_step_4
    try:
        assert main(["train", "--run-dir", str(runs_dir / "diverged"), *map(str, SHORT)]) == 2
    finally:
        vae.train.negative_elbo = elbo


def write_status(run_dir: Path, status: dict | str, checkpoint: bytes | None = None) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text(status if isinstance(status, str) else json.dumps(status))
    if checkpoint is not None:
        (run_dir / "checkpoint.pt").write_bytes(checkpoint)


SCENARIOS = {
    # the training form refuses a learning rate of 0 with the options table's words
    "refused-option": ("app_pages/pages/train.py", {}, "error", "学习率（--lr）必须大于 0 且至多为 1，实际为 0.0"),
    # Fashion-MNIST's test set is missing: how to fetch it
    "missing-data": ("app_pages/pages/latent.py", {"model": "fashion-mnist-2d"}, "error",
                     "中没有 Fashion-MNIST（缺失或损坏："),
    # $VAE_CHECKPOINT names a file that is not there
    "checkpoint-env": ("app_pages/pages/latent.py", {}, "warning", "：没有这个检查点文件"),
    # the training process failed, and recorded why in status.json
    "failed-run": ("app_pages/pages/train.py", {}, "error",
                   "运行失败：TrainingDiverged：训练发散了：损失在第 4 步（第 2 轮）变成了 nan；请尝试比 0.002 更低的学习率"),
    # its process ended without a word; its checkpoint is not one of this project's either
    "interrupted-run": ("app_pages/pages/train.py", {}, "warning",
                        "训练进程一声不响地结束了（被终止了，还是内存不足？）；其最后一个检查点（第 1 轮，第 2 步）已保留"),
    "foreign-checkpoint": ("app_pages/pages/train.py", {}, "warning", "其检查点无法使用：", "不是 VAE 潜在空间探索器的检查点"),
    # status.json holds no JSON the parser can read
    "unreadable-status": ("app_pages/pages/train.py", {}, "error", "无法读取该运行文件夹：status.json 不是 JSON（嵌套太深）"),
    # an upload that is no picture
    "upload": ("app_pages/pages/reconstruct.py", {}, "error", "该文件不是可以读取的图像。请上传 PNG、JPEG、GIF、BMP 或 WebP 图片。"),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_vae_packages_messages_show_in_chinese(fresh, runs_dir, tmp_path, monkeypatch, scenario):
    from app_pages import catalog
    from app_pages.common import _test_set
    from vae import data

    page, params, kind, *chinese = SCENARIOS[scenario]
    if scenario == "missing-data":
        monkeypatch.setenv(data.DATA_ROOT_ENV, str(tmp_path / "empty"))
        monkeypatch.setattr(data, "FETCHERS", {})                 # never a download
        _test_set.clear()
    elif scenario == "checkpoint-env":
        monkeypatch.setenv(catalog.CHECKPOINT_ENV, str(tmp_path / "gone.pt"))
    elif scenario == "failed-run":
        failed_run(runs_dir)
    elif scenario in ("interrupted-run", "foreign-checkpoint"):
        import io

        import torch

        foreign = io.BytesIO()
        torch.save({"weights": torch.zeros(2)}, foreign)
        write_status(runs_dir / "cut", {"state": "running", "started": 1.0, "epoch": 1, "epochs": 3, "step": 2,
                                        "total_steps": 6, "pid": 999_999_999}, checkpoint=foreign.getvalue())
    elif scenario == "unreadable-status":
        write_status(runs_dir / "odd", "[" * 100_000 + "]" * 100_000)
    try:
        app = opened(page, lang="zh-CN", **params)
        if scenario == "refused-option":
            next(w for w in app.number_input if w.key == "option_lr").set_value(0.0)
            next(b for b in app.button if b.label == "开始训练").click().run()
        elif scenario == "upload":
            app.radio(key="source").set_value("Upload a picture").run()
            app.file_uploader[0].set_value(("digit.png", b"not an image", "image/png")).run()
        assert [e.value for e in app.exception] == []
        said = [re.sub(r"\\(.)", r"\1", element.value).replace("\u2060", "") for element in getattr(app, kind)]
        assert any(all(words in text for words in chinese) for text in said), said
        assert [run for text in said for run in english_runs(text)] == []
        shown = shown_text(app)
        assert [(sentence, text) for sentence in english_sentences() for text in shown if sentence in text] == []
    finally:
        if scenario == "missing-data":
            _test_set.clear()


def test_the_explorer_downloaded_in_chinese_is_in_chinese(fresh, monkeypatch):
    """The Latent page's "Download this explorer" in a Chinese session gives a file in Chinese: the plane's words
    (the `strings` the dashboard sends), the page's own (vae.export.PAGE_WORDS), the class names and lang="zh-CN".
    Made as the server makes it when the button is pressed: by the button's callable, outside the session."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    from vae import web
    from vae.export import PAGE_WORDS

    callables, add = [], MediaFileManager.add_deferred
    monkeypatch.setattr(MediaFileManager, "add_deferred",
                        lambda self, made, *args, **kwargs: callables.append(made) or add(self, made, *args, **kwargs))
    app = opened("app_pages/pages/latent.py", lang="zh-CN", model="fashion-mnist-2d")
    assert messages(app) == {"exception": [], "error": []}
    [button] = app.get("download_button")
    assert button.proto.label == "下载这个探索器" and callables
    text = callables[-1]()[2:].decode("utf-16-le")
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', text, re.S).group(1))
    assert '<html lang="zh-CN">' in text and "<title>fashion-mnist-2d：潜在平面</title>" in text
    assert '<label>流形间距 <select id="spacing"><option value="linear">在 z 中均匀</option>' in text
    assert data["strings"]["reset_view"] == "重置视图" and data["strings"]["legend_class"] == "类别："
    assert data["class_names"][0] == "T恤/上衣" and data["page"]["facts"] == "{dataset} · {latent_dim} 个潜在维度 · {elbo}"
    english = [text for _line, text in web.words().values()] + list(PAGE_WORDS.values())
    shown = [word for word in [*data["strings"].values(), *data["page"].values()] if word in english]
    assert shown == ["KL {kl}"] or shown == [], shown              # every word in Chinese ("KL {kl}" reads the same)
    around = re.sub(r"<[^>]*>", "\n", text.split("<body>")[1].split('<script type="application/json"')[0])
    around += re.search(r"<script nomodule>(.*?)</script>", text, re.S)[1]          # the page's own text
    assert [english for english in PAGE_WORDS.values()
            if (head := english.split("{")[0].strip()) and re.search(rf"(?<!\w){re.escape(head)}(?!\w)", around)] == []
    assert CHINESE.search(re.search(r"<noscript>.*?</noscript>", text, re.S)[0])

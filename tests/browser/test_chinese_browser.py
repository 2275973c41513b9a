"""Issue 17, 简体中文 in Chromium: the latent plane's own words (vae/web/words.js, sent translated by
app_pages/plane) show in Chinese on /latent?lang=zh-CN, and English stays the default; and a walk over
every page and companion tab in Chinese, at 1400×1000 and on a phone (414×896, touch), finds no English
sentence left (Streamlit's own words aside, README: 简体中文) and no text running out of its box: the Latent
page with the decoder's map on and a run's Training replay tab too, and the Train page while a short real run
trains. The explorer downloaded from a Chinese session opens in Chinese."""
import json
import re

import pytest

from harness import PLANE, hover_plane, open_app, open_plane, wait_until_idle

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def plane_words(page) -> dict:
    """What the plane says: the legend's title and first class, its buttons, the preview's caption, the
    help, the nearest dot's caption, and the labels that screen readers read."""
    return page.locator(".vlp").first.evaluate("""(el) => ({
        title: el.querySelector('.vlp-title').textContent,
        reset: el.querySelector('.vlp-reset').textContent,
        full: el.querySelector('.vlp-full').textContent,
        caption: el.querySelector('.vlp-preview-caption').textContent,
        coords: el.querySelector('.vlp-coords').textContent,
        help: el.querySelector('.vlp-help').textContent,
        dot: el.querySelector('.vlp-dotinfo').textContent,
        manifold: el.querySelector('.vlp-manifold-caption').textContent,
        zoom: el.querySelector('.vlp-zoom').getAttribute('aria-label'),
        plane: el.querySelector('.vlp-plane').getAttribute('aria-label'),
        legend: el.querySelector('.vlp-legend button').title})""")


def hover_a_dot(page) -> None:
    """Move the pointer across the plane's centre until it is on a dot (the nearest dot's caption shows)."""
    for fx in (0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65, 0.3, 0.7):
        hover_plane(page, fx, 0.5)
        if page.locator(".vlp-dotinfo").first.text_content():
            return
    pytest.fail("no dot was found under the pointer across the centre of the plane")


@pytest.mark.slow
def test_the_plane_speaks_chinese_on_the_latent_page(page, server):
    open_plane(page, server.url, "/latent?lang=zh-CN&model=fashion-mnist-2d")
    page.locator(".vlp-manifold-caption:not(:empty)").first.wait_for(timeout=60_000)     # the Manifold tab, open first
    hover_a_dot(page)
    words = plane_words(page)
    assert words["title"] == "类别：" and words["reset"] == "重置视图" and words["full"] == "全屏"
    assert words["caption"] == "指针下的解码" and words["zoom"] == "放大"
    assert re.fullmatch(r"指针：z\d = -?\d+\.\d{3}，z\d = -?\d+\.\d{3}", words["coords"]), words["coords"]
    assert words["dot"].startswith("测试物品 #") and "标签为 " in words["dot"], words["dot"]
    assert words["legend"] == "显示或隐藏标签为 T恤/上衣 的测试物品"
    assert words["manifold"].startswith("可见正方形的 "), words["manifold"]
    assert [name for name, text in words.items() if not CHINESE.search(text)] == []
    assert page.locator(PLANE).first.is_visible()


@pytest.mark.slow
def test_the_plane_stays_english_by_default(page, server):
    open_plane(page, server.url)
    words = plane_words(page)
    assert words["title"] == "digit:" and words["reset"] == "Reset view"
    assert words["caption"] == "Pinned point (move over the plane to decode)"
    assert [name for name, text in words.items() if CHINESE.search(text)] == []


# The Chinese walk: every page and every companion tab of the Latent page (a run's Training replay with its
# model: replay_run), the decoder's map, on a desktop and a phone.
REPLAYED = "zz-replayed-zh"
WALK = ["/", "/train", *(f"/latent?tab={tab}" for tab in ("Manifold", "Sample", "Interpolate", "A%20dot%27s%20story")),
        "/latent?map=1", f"/latent?model=run:{REPLAYED}&tab=Training%20replay", "/reconstruct", "/elbo", "/runs"]
SCREENS = {"desktop": {"viewport": {"width": 1400, "height": 1000}},
           "phone": {"viewport": {"width": 414, "height": 896}, "has_touch": True, "is_mobile": True,
                     "device_scale_factor": 2}}
# English that rightly stays: Streamlit's own words (README, 简体中文), proper names and formula text.
EXCEPTIONS = ["Skip to main content", "Drag and drop file here", "Drag and drop files here", "Limit 200MB per file", "Browse files",
              "Press Enter to apply", "Kingma & Welling"]
ENGLISH_RUN = re.compile(r"(?<![\w/.-])[A-Za-z][a-z'’]*(?:[ \t]+[A-Za-z][a-z'’]*){2,}(?![\w/.-])")

# The page's text and the plane's, less what is code (a command such as `python -m vae evaluate path`).
VISIBLE_TEXT = """() => {
    const texts = [document.body.innerText];
    for (const host of document.querySelectorAll('*')) {
        if (host.shadowRoot) texts.push(host.shadowRoot.querySelector('.vlp')?.innerText || '');
    }
    let text = texts.join('\\n');
    for (const code of document.querySelectorAll('code')) text = text.replace(code.innerText, ' ');
    return text;
}"""
# Elements whose own text runs out of their box (scrollWidth past clientWidth, where the text is not
# meant to scroll) or out of the window sideways.
OVERFLOWING = """() => {
    const found = [], width = document.documentElement.clientWidth;
    const SKIP = 'pre, code, [data-testid="stDataFrame"], [data-testid="stCodeBlock"], .js-plotly-plot, script, style';
    const roots = [document, ...[...document.querySelectorAll('*')].filter((e) => e.shadowRoot).map((e) => e.shadowRoot)];
    for (const root of roots) for (const el of root.querySelectorAll('*')) {
        const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join(' ').trim();
        if (!own || el.closest(SKIP)) continue;
        const box = el.getBoundingClientRect(), style = getComputedStyle(el);
        if (box.width <= 1 || box.height <= 1 || style.visibility === 'hidden') continue;     // hidden, or a skip link
        if (box.right <= 0 || box.left >= width) continue;                      // off the screen: a closed sidebar
        let scroller = el.parentElement;                                  // text in a box that scrolls sideways
        while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
        if (scroller) continue;
        const scrolls = ['auto', 'scroll'].includes(style.overflowX) || style.textOverflow === 'ellipsis';
        const what = own.slice(0, 60);
        if (!scrolls && el.scrollWidth > el.clientWidth + 1 && style.display !== 'inline') {
            found.push(`${what} (scrollWidth ${el.scrollWidth} > ${el.clientWidth})`);
        } else if (box.right > width + 1 || box.left < -1) {
            found.push(`${what} (x ${Math.round(box.left)} to ${Math.round(box.right)} of ${width})`);
        }
    }
    return found;
}"""


def english_left(text: str) -> list[str]:
    for allowed in EXCEPTIONS:
        text = text.replace(allowed, "")
    return sorted(set(ENGLISH_RUN.findall(text)))


def test_the_english_detector_finds_a_sentence_and_passes_names_and_formulas():
    assert english_left("训练 VAE\nStart training now\nMNIST · Fashion-MNIST · KL(q(z|x) ‖ p(z)) · mnist-2d.pt") == [
        "Start training now"]
    assert english_left("拖放 Drag and drop files here 和 Kingma & Welling 2014") == []


@pytest.fixture
def replay_run(server):
    """A finished run of a small model with a replay of three snapshots, in the server's runs folder (removed
    after the test): the Latent page offers its Training replay tab."""
    import shutil

    import torch

    import vae
    import vae.data
    from vae import replay, runfiles

    run = server.runs_dir / REPLAYED
    run.mkdir(parents=True)
    images = vae.data.load_mnist("test")[0]
    for step, seed in [(0, 1), (5, 2), (40, 3)]:
        torch.manual_seed(seed)
        model = vae.VAE(vae.ModelConfig(hidden=16)).eval()
        replay.save_snapshot(run, model, images, step=step, epoch=step / 20)
    vae.save_checkpoint(run / runfiles.CHECKPOINT, model, {"epoch": 2, "step": 40, "test_metrics": None})
    (run / runfiles.STATUS).write_text(json.dumps({"state": "finished", "epoch": 2, "epochs": 2, "step": 40,
                                                   "total_steps": 40, "started": 1.0, "pid": 0}))
    yield run
    shutil.rmtree(run)


def walk_in_chinese(page, url: str, path: str, left: dict, overflowing: dict) -> None:
    """Open `path` in Chinese; note the English runs and the overflowing text it shows."""
    open_app(page, url + path + ("&" if "?" in path else "?") + "lang=zh-CN", "h1")
    if path.startswith("/latent"):
        page.locator(".vlp-help:not(:empty), .vlp-msg.shown").first.wait_for(timeout=60_000)
        wait_until_idle(page)
        if "map=1" in path:                                              # the decoder's map, drawn, and its legend
            page.locator(".vlp-plane[data-map]").first.wait_for(state="attached", timeout=60_000)
            page.locator(".vlp-maplegend:not(:empty)").first.wait_for(timeout=60_000)
        if "replay" in path:                                             # the replay's slider and play button
            page.locator(".vlp-replay:not([hidden])").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)                                        # the plane lays itself out
    assert page.locator('[data-testid="stException"]').count() == 0, path
    if words := english_left(page.evaluate(VISIBLE_TEXT)):
        left[path] = words
    if found := page.evaluate(OVERFLOWING):
        overflowing[path] = found


@pytest.mark.slow
@pytest.mark.parametrize("screen", SCREENS)
def test_every_page_in_chinese_leaves_no_english_sentence_and_no_text_overflows(chromium, server, replay_run, screen):
    context = chromium.new_context(**SCREENS[screen])
    page = context.new_page()
    page.set_default_timeout(60_000)
    left, overflowing = {}, {}
    try:
        for path in WALK:
            walk_in_chinese(page, server.url, path, left, overflowing)
    finally:
        context.close()
    assert (left, overflowing) == ({}, {}), json.dumps([left, overflowing], ensure_ascii=False, indent=1)


@pytest.mark.slow
def test_the_train_page_in_chinese_while_a_short_run_trains(chromium, server, no_training):
    """A real run started from the Chinese form: while it trains (its progress line, the live loss chart, the
    configuration, the Stop button) the page shows no English sentence and no overflowing text, on a desktop
    and a phone; Stop ends it in Chinese too."""
    from app_pages.i18n import translations

    zh = translations("zh-CN").gettext
    context = chromium.new_context(**SCREENS["desktop"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    left, overflowing = {}, {}
    try:
        open_app(page, f"{server.url}/train?lang=zh-CN", f"text={zh('Start training')}")
        for label, value in {"Epochs": 30, "Batch size": 64, "Training subset": 20000}.items():
            page.get_by_role("spinbutton", name=zh(label), exact=True).fill(str(value))
        page.get_by_role("button", name=zh("Start training")).click()
        page.locator("h3", has_text="：" + zh("running")).wait_for(timeout=120_000)
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')", timeout=180_000)
        page.get_by_text(re.compile(re.escape(zh("about {time} left").split("{")[0]))).first.wait_for(timeout=120_000)
        wait_until_idle(page)
        walk_in_chinese(page, server.url, "/train", left, overflowing)       # training, on a desktop
        phone = chromium.new_context(**SCREENS["phone"])
        try:
            on_phone = phone.new_page()
            on_phone.set_default_timeout(60_000)
            walk_in_chinese(on_phone, server.url, "/train?screen=phone", left, overflowing)   # and on a phone
        finally:
            phone.close()
        page.get_by_role("button", name=zh("Stop training")).click()
        page.locator("h3", has_text="：" + zh("stopped")).wait_for(timeout=120_000)
        wait_until_idle(page)
        walk_in_chinese(page, server.url, "/train?ended=1", left, overflowing)   # stopped: Resume, its checkpoint
    finally:
        context.close()
    assert (left, overflowing) == ({}, {}), json.dumps([left, overflowing], ensure_ascii=False, indent=1)


@pytest.mark.slow
def test_the_explorer_downloaded_in_chinese_opens_in_chinese(page, server, tmp_path):
    """/latent?lang=zh-CN's "Download this explorer": the file, opened offline, shows its header, controls and
    the plane's own words in Chinese."""
    from app_pages.i18n import translations
    from test_export_browser import READY

    open_plane(page, server.url, "/latent?lang=zh-CN&model=fashion-mnist-2d")
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name=translations("zh-CN").gettext("Download this explorer")).click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_offline(True)
    opened = context.new_page()
    try:
        opened.goto(path.as_uri())
        opened.wait_for_function(READY, timeout=60_000)
        opened.locator(".vlp-help:not(:empty)").first.wait_for()
        assert opened.evaluate("() => document.documentElement.lang") == "zh-CN"
        assert opened.title() == "fashion-mnist-2d：潜在平面"
        assert opened.locator("#facts").inner_text().startswith("Fashion-MNIST · 2 个潜在维度 · 测试 −ELBO ")
        assert opened.locator(".vlp-reset").first.inner_text() == "重置视图"
        assert opened.locator(".vlp-title").first.inner_text() == "类别："
        assert english_left(opened.evaluate(VISIBLE_TEXT)) == []
        assert opened.evaluate(OVERFLOWING) == []
    finally:
        context.close()

"""Issue 17, 简体中文 in Chromium: the latent plane's own words (vae/web/words.js, sent translated by
app_pages/plane) show in Chinese on /latent?lang=zh-CN, and English stays the default."""
import re

import pytest

from harness import PLANE, hover_plane, open_plane

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

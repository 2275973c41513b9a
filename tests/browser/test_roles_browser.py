"""A class on one server in Chromium (issue 17): with loopback counted as another machine, the Train page
shows a visitor no Start button but the line saying why, and the owner's token brings the form back. The
server listens on 127.0.0.1 and the browser goes there only."""
import pytest

from app_pages import roles
from harness import AppServer, open_app, wait_until_idle

pytestmark = pytest.mark.slow            # `make test-slow`: whole pages in Chromium, seconds each

TOKEN = "a token for the colleague"
VIEWER_LINE = "You are connected from another machine"


@pytest.fixture(scope="module")
def class_server(chromium, tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    env = {roles.LOOPBACK_IS_REMOTE_ENV: "1", roles.TOKEN_ENV: TOKEN}
    with AppServer(folder / "runs", folder / "streamlit.log", env=env) as app:
        assert app.url.startswith("http://127.0.0.1:")
        yield app


def test_a_visitor_sees_no_start_until_the_owners_token_is_entered(chromium, class_server):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        open_app(page, f"{class_server.url}/train", f"text={VIEWER_LINE}")
        start = page.get_by_role("button", name="Start training")
        assert start.count() == 0
        field = page.get_by_role("textbox", name="Owner's token")
        field.fill("not it")
        field.press("Enter")
        page.get_by_text("That is not the owner's token.").wait_for()
        wait_until_idle(page)
        assert start.count() == 0
        field.fill(TOKEN)
        field.press("Enter")
        start.wait_for()
        wait_until_idle(page)
        assert page.get_by_text(VIEWER_LINE).count() == 0 and TOKEN not in page.content()
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()

"""A hostile link in Chromium: its values show as text in the app's warnings, which stay past the plane's
first rerun, and nothing is linked to or fetched from the address they name."""
import urllib.parse

import pytest

from harness import open_app

pytestmark = pytest.mark.slow

EVIL = "http://127.0.0.1:9"                    # the discard port: nothing answers, a fetch would still show


@pytest.mark.parametrize("path", ["/latent", "/elbo"])
def test_a_hostile_links_values_are_text_and_stay(page, server, path):
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.url.startswith(EVIL) else None)
    model = f"www.evil.example [Session expired: sign in]({EVIL}/login)"          # under the 80 shown
    query = urllib.parse.urlencode({"model": model, "z": f"![a]({EVIL}/z.png)"})
    open_app(page, f"{server.url}{path}?{query}", ".vlp-planewrap")
    warnings = page.locator('[data-testid="stAlertContentWarning"]')
    assert warnings.count() == 2
    page.wait_for_timeout(3000)                                      # past the plane component's first rerun
    assert warnings.count() == 2
    shown = " ".join(warnings.all_inner_texts()).replace("\u2060", "")
    assert model in shown
    assert f"![a]({EVIL}/z.png)" in shown
    assert page.locator(f'a[href^="{EVIL}"], a[href*="evil.example"], img[src^="{EVIL}"]').count() == 0
    assert asked == []

"""Wrong owner's tokens are rate-limited (issue "Reach"): after five wrong tokens from one client address the
token field refuses every attempt, the right token too, for 30 s, doubled at each further wrong one (at most
15 min), and says when to try again. The count is the server's, not the tab's: a new session from the same
address is refused too. The clock is the test's (roles.TokenAttempts takes one), so nothing sleeps.

The sessions come from a client address as Streamlit's server gives it (st.context.ip_address), here
192.168.1.20 and 192.168.1.21: AppTest has no client, so the tests put a stand-in in front of st.context."""
import threading
from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from app_pages import roles

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "correct horse battery staple"
SHUT_OUT = "Too many wrong tokens from your address"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FromAddress:
    """st.context as Streamlit's server gives it to a client at `ip` (everything else the real context's)."""

    def __init__(self, real, ip):
        self._real, self.ip_address = real, ip

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def clock(monkeypatch):
    """A fresh limit with the test's clock (the server's keeps its count from other tests apart)."""
    clock = Clock()
    monkeypatch.setattr(roles, "attempts", roles.TokenAttempts(clock=clock))
    return clock


@pytest.fixture
def address(monkeypatch):
    """address("192.168.1.20"): the sessions opened from now on come from that address (a viewer's)."""
    monkeypatch.delenv(roles.LOOPBACK_IS_REMOTE_ENV, raising=False)
    monkeypatch.setenv(roles.TOKEN_ENV, TOKEN)
    real = streamlit.context

    def from_(ip: str) -> None:
        monkeypatch.setattr(streamlit, "context", FromAddress(real, ip))

    return from_


def train_page(open_page) -> AppTest:
    return open_page("app_pages/pages/train.py")


def enter(app: AppTest, token: str) -> AppTest:
    field = [t for t in app.text_input if t.key == "owner_token_entry"]
    assert len(field) == 1, "the owner's token field is missing"
    return field[0].input(token).run()


def errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def owner(app: AppTest) -> bool:
    return "Start training" in {b.label for b in app.button}


def test_five_wrong_tokens_shut_the_address_out_and_the_right_one_waits_for_the_lockout(open_page, clock, address):
    address("192.168.1.20")
    app = train_page(open_page)
    assert not owner(app)
    for _ in range(4):
        enter(app, "a guess")
        assert errors(app) == ["That is not the owner's token."]
    enter(app, "a fifth guess")
    assert not app.exception and not owner(app)
    assert len(errors(app)) == 1 and SHUT_OUT in errors(app)[0] and "Try again in 30 s." in errors(app)[0]
    clock.now += 20
    enter(app, TOKEN)                                        # refused unheard while shut out
    assert not owner(app) and "Try again in 10 s." in errors(app)[0]
    clock.now += 11
    enter(app, TOKEN)
    assert not app.exception and owner(app) and not errors(app)


def test_each_wrong_token_after_the_fifth_doubles_the_wait_up_to_fifteen_minutes(open_page, clock, address):
    address("192.168.1.20")
    app = train_page(open_page)
    shown = []
    for _ in range(11):
        enter(app, "a guess")
        shown.append(errors(app)[0])
        clock.now += roles.attempts.wait("192.168.1.20") + 1          # each lockout waited out
    assert shown[:4] == ["That is not the owner's token."] * 4
    waits = [text.rsplit("Try again in ", 1)[1] for text in shown[4:]]
    assert waits == ["30 s.", "60 s.", "2 min.", "4 min.", "8 min.", "15 min.", "15 min."]


def test_a_new_session_from_the_same_address_is_shut_out_too_another_address_is_not(open_page, clock, address):
    address("192.168.1.20")
    app = train_page(open_page)
    for _ in range(5):
        enter(app, "a guess")
    tab = train_page(open_page)                             # a new tab: its own session, the same address
    assert SHUT_OUT in errors(tab)[0]
    enter(tab, TOKEN)
    assert not owner(tab)
    address("192.168.1.21")                                  # another student's machine
    other = train_page(open_page)
    assert not errors(other)
    enter(other, TOKEN)
    assert owner(other)
    address("192.168.1.20")
    clock.now += 31
    enter(tab, TOKEN)
    assert owner(tab)


def test_the_right_token_forgets_the_wrong_ones(open_page, clock, address):
    address("192.168.1.20")
    app = train_page(open_page)
    for _ in range(4):
        enter(app, "a guess")
    enter(app, TOKEN)
    assert owner(app)
    app = train_page(open_page)                             # the next session starts with five tries again
    for _ in range(4):
        enter(app, "a guess")
    assert errors(app) == ["That is not the owner's token."]


def test_the_count_is_forgotten_after_a_quiet_quarter_hour():
    clock = Clock()
    attempts = roles.TokenAttempts(clock=clock)
    for _ in range(4):
        assert attempts.attempt("a", right=False) == 0
    clock.now += 901
    assert attempts.attempt("a", right=False) == 0           # a first wrong token again, not the fifth
    for _ in range(3):
        attempts.attempt("a", right=False)
    assert attempts.attempt("a", right=False) == 30 and attempts.wait("a") == 30
    clock.now += 30 + 899
    assert attempts.attempt("a", right=False) == 60          # within a quarter hour of the lockout's end


def test_the_count_is_bounded_and_shared_between_threads():
    attempts = roles.TokenAttempts(clients=100, clock=Clock())
    for n in range(1000):
        attempts.attempt(f"10.0.{n // 256}.{n % 256}", right=False)
    assert len(attempts._wrong) == 100 and "10.0.3.231" in attempts._wrong   # the most recent kept
    attempts = roles.TokenAttempts(clock=Clock())
    threads = [threading.Thread(target=lambda: [attempts.attempt("b", right=False) for _ in range(50)])
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert attempts._wrong["b"][0] == 400


@pytest.mark.parametrize("ip, key", [(None, "loopback"), ("192.168.1.20", "192.168.1.20"),
                                     ("::ffff:192.168.1.20", "192.168.1.20"),
                                     ("2001:db8:1:2:aaaa::5", "2001:db8:1:2::/64"),
                                     ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64")])
def test_a_client_is_counted_by_its_address(monkeypatch, ip, key):
    """Streamlit gives None for 127.0.0.1 and ::1: behind a proxy or a tunnel every visitor is that one
    address, and a new tab must not reset the count. An IPv6 machine is counted by its /64."""
    monkeypatch.setattr(streamlit, "context", FromAddress(streamlit.context, ip))
    assert roles.client_key() == key

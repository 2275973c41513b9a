"""Who may train on this server: its owner, or a viewer.

The owner is whoever connects from this machine, or whoever has entered the owner's token (`owner_token` in
.streamlit/secrets.toml, or the VAE_OWNER_TOKEN environment variable; unset or empty, no token makes an owner).
Anyone else is a viewer: every model and run to explore, uploads and drawings, but no run to start, stop,
resume, rename or delete. Behind a reverse proxy or a tunnel on this machine every visitor may arrive from
loopback: VAE_LOOPBACK_IS_REMOTE=1 then counts loopback as another machine, so only the token makes an owner.
Wrong tokens are rate-limited per client address, across tabs and sessions (TokenAttempts): after LIMIT wrong
ones, each further attempt is refused, unheard, until a lockout that doubles with each wrong token has passed.

The pages hide the training controls from a viewer, and call the lifecycle only through the actions below,
which ask again when they are called: a forged widget event, a fragment's rerun or a callback from a page
drawn before the role changed starts nothing."""
from __future__ import annotations

import collections
import functools
import hmac
import ipaddress
import math
import os
import threading
import time

import streamlit as st

from app_pages.i18n import _

from vae.lifecycle import delete_run as _delete_run
from vae.lifecycle import resume_run as _resume_run
from vae.lifecycle import start_run as _start_run
from vae.lifecycle import stop_run as _stop_run
from vae.runfiles import rename_run as _rename_run

TOKEN_SECRET = "owner_token"                  # its key in .streamlit/secrets.toml
TOKEN_ENV = "VAE_OWNER_TOKEN"                 # or this environment variable (which wins)
LOOPBACK_IS_REMOTE_ENV = "VAE_LOOPBACK_IS_REMOTE"
GIVEN = "owner_token_given"                   # session state: the token this session entered (never a widget key)


class NotOwner(PermissionError):
    """A training action asked for by a viewer."""


def from_this_machine(ip: str | None) -> bool:
    """Whether a client at `ip` (st.context.ip_address) is on this machine. Streamlit gives None for
    127.0.0.1 and ::1, and no address when there is no client (AppTest's stand-in runtime gives a mock);
    other loopback addresses count too."""
    if os.environ.get(LOOPBACK_IS_REMOTE_ENV, "").strip().lower() in ("1", "true", "yes"):
        return False
    if not isinstance(ip, str):
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback     # ::ffff:127.0.0.1 too


def owner_token() -> str:
    """The owner's token, or "" when none is set."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        try:
            token = st.secrets.get(TOKEN_SECRET, "")
        except FileNotFoundError:                  # no secrets.toml (Streamlit's error is a FileNotFoundError)
            token = ""
    return token.strip() if isinstance(token, str) else ""


def token_matches(given: str) -> bool:
    token = owner_token()
    return bool(token) and hmac.compare_digest(given.strip().encode(), token.encode())


class TokenAttempts:
    """Wrong owner's tokens per client, for the whole server process (a new tab or session starts nothing
    afresh). A client may give `limit` wrong tokens; the last of those, and each wrong one after it, shuts it
    out for `first` seconds, doubled at each (`first`, 2×, 4×, … at most `longest`). While it is shut out
    its attempts are refused unheard, the right token too, and do not count. A client is forgotten after
    `forget` seconds without a wrong token once its lockout is over, or when the right token is given.
    At most `clients` clients are kept, the least recently wrong dropped first. `clock` gives seconds
    (time.monotonic; tests pass their own)."""

    def __init__(self, limit: int = 5, first: float = 30.0, longest: float = 900.0, forget: float = 900.0,
                 clients: int = 10_000, clock=time.monotonic):
        self.limit, self.first, self.longest, self.forget, self.clients = limit, first, longest, forget, clients
        self.clock = clock
        self._lock = threading.Lock()
        self._wrong: collections.OrderedDict[str, tuple[int, float, float]] = collections.OrderedDict()
        # client -> (wrong tokens, when the last was given, when its lockout ends), least recently wrong first

    def _entry(self, client: str, now: float) -> tuple[int, float, float] | None:
        entry = self._wrong.get(client)
        if entry is not None and now >= entry[2] and now - max(entry[1], entry[2]) > self.forget:
            del self._wrong[client]
            return None
        return entry

    def wait(self, client: str) -> float:
        """Seconds until `client` may try a token again; 0 when it may now."""
        with self._lock:
            now = self.clock()
            entry = self._entry(client, now)
            return max(0.0, entry[2] - now) if entry else 0.0

    def attempt(self, client: str, right: bool) -> float:
        """Record a token `client` gave while it was allowed to (wait() was 0): the seconds it is now shut out."""
        with self._lock:
            now = self.clock()
            if right:
                self._wrong.pop(client, None)
                return 0.0
            wrong = (self._entry(client, now) or (0, now, now))[0] + 1
            shut = min(self.first * 2 ** (wrong - self.limit), self.longest) if wrong >= self.limit else 0.0
            self._wrong[client] = (wrong, now, now + shut)
            self._wrong.move_to_end(client)
            while len(self._wrong) > self.clients:
                self._wrong.popitem(last=False)
            return shut

    def clear(self) -> None:
        with self._lock:
            self._wrong.clear()


attempts = TokenAttempts()


def client_key() -> str:
    """Whom the limit counts: the client's address (an IPv6 one by its /64, which one machine often holds
    whole; Streamlit gives None for 127.0.0.1 and ::1, which count as one address), or, where there is no
    client address at all (AppTest), the session."""
    ip = st.context.ip_address
    if ip is None:
        return "loopback"
    if isinstance(ip, str):
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return f"address {ip[:100]}"
        address = getattr(address, "ipv4_mapped", None) or address
        if address.version == 6:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    return f"session {ctx.session_id if ctx else ''}"


def try_again_in(seconds: float) -> str:
    """A lockout's length for the message: '30 s', '2 min' (units stay as they are in every language)."""
    return f"{math.ceil(seconds)} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"


def is_owner() -> bool:
    """Asked afresh on every call: the address, the setting and the token are read each time, so a changed
    token takes effect at once."""
    return from_this_machine(st.context.ip_address) or token_matches(st.session_state.get(GIVEN, ""))


def owner_only(action):
    """`action`, refused with NotOwner (a PermissionError, so an OSError) unless the session is the owner's."""
    @functools.wraps(action)
    def checked(*args, **kwargs):
        if not is_owner():
            raise NotOwner(_("Only the owner of this server can start, stop, resume, rename or delete runs."))
        return action(*args, **kwargs)
    return checked


start_run = owner_only(_start_run)
stop_run = owner_only(_stop_run)
resume_run = owner_only(_resume_run)
rename_run = owner_only(_rename_run)
delete_run = owner_only(_delete_run)


def viewer_notice(key: str = "owner_token_entry") -> None:
    """For a viewer, in place of the training controls: one line saying why they are missing, and, when
    the owner has set a token, a field to enter it."""
    if not owner_token():
        st.info(_("You are connected from another machine: you can explore every model and run, but only the "
                  "machine this server runs on can start, stop, resume, rename or delete runs."), icon=":material/lock:")
        return
    st.info(_("You are connected from another machine: you can explore every model and run, but starting, "
              "stopping, resuming, renaming and deleting runs is for the owner of this server. The owner's token "
              "unlocks them."), icon=":material/lock:")

    def check() -> None:
        given = st.session_state[key]
        st.session_state[key] = ""                  # the field never keeps it
        client = client_key()
        if not given.strip() or attempts.wait(client) > 0:
            st.session_state[GIVEN] = ""            # shut out: refused unheard, the right token too
            return
        attempts.attempt(client, token_matches(given))
        st.session_state[GIVEN] = given

    st.text_input(_("Owner's token"), type="password", key=key, on_change=check, width=360,
                  help=_("Set by the owner in .streamlit/secrets.toml (owner_token) or VAE_OWNER_TOKEN. Press Enter."))
    wait = attempts.wait(client_key())
    if wait > 0:
        st.error(_("Too many wrong tokens from your address: the owner's token is refused for now. Try again "
                   "in {wait}.").format(wait=try_again_in(wait)))
    elif st.session_state.get(GIVEN) and not token_matches(st.session_state[GIVEN]):
        st.error(_("That is not the owner's token."))

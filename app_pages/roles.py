"""Who may train on this server: its owner, or a viewer.

The owner is whoever connects from this machine, or whoever has entered the owner's token (`owner_token` in
.streamlit/secrets.toml, or the VAE_OWNER_TOKEN environment variable; unset or empty, no token makes an owner).
Anyone else is a viewer: every model and run to explore, uploads and drawings, but no run to start, stop,
resume, rename or delete. Behind a reverse proxy or a tunnel on this machine every visitor may arrive from
loopback: VAE_LOOPBACK_IS_REMOTE=1 then counts loopback as another machine, so only the token makes an owner.

The pages hide the training controls from a viewer, and call the lifecycle only through the actions below,
which ask again when they are called: a forged widget event, a fragment's rerun or a callback from a page
drawn before the role changed starts nothing."""
from __future__ import annotations

import functools
import hmac
import ipaddress
import os

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
        st.session_state[GIVEN] = st.session_state[key]
        st.session_state[key] = ""                  # the field never keeps it

    st.text_input(_("Owner's token"), type="password", key=key, on_change=check, width=360,
                  help=_("Set by the owner in .streamlit/secrets.toml (owner_token) or VAE_OWNER_TOKEN. Press Enter."))
    if st.session_state.get(GIVEN) and not token_matches(st.session_state[GIVEN]):
        st.error(_("That is not the owner's token."))

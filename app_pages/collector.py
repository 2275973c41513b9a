"""Python's garbage collector in a server that holds torch: what is alive once the first page has loaded torch
is frozen, so that the collector's full collections stop walking it.

.streamlit/config.toml turns off Streamlit's full collection after every script run (runner.postScriptGC);
Python's own collector still runs, and each of its full (generation 2) collections walks every object the
process holds: with torch, Plotly and Streamlit loaded, some 290,000. With ten students pinning on the Latent
page while the owner trained (bench/classroom.py), such a collection came once or twice a minute and took
85 to 540 ms, and no session's script ran meanwhile (the collector holds the GIL): the pins then in flight waited.
gc.freeze() moves the objects alive at that moment into a permanent generation that the collector skips;
afterwards a full collection took 12 ms. The frozen objects are mostly modules, classes and functions, the
loaded model and the caches, which live as long as the server anyway; the garbage of later script runs is
collected as before."""
from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_frozen = False


def served() -> bool:
    """Whether this is a real Streamlit server (AppTest's stand-in runtime is a mock: the tests' process is
    left alone)."""
    from streamlit import runtime
    from streamlit.runtime import Runtime

    return runtime.exists() and type(runtime.get_instance()) is Runtime      # a mock with spec=Runtime passes isinstance


def torch_loaded() -> bool:
    return "torch" in sys.modules


def freeze_once_torch_is_loaded() -> bool:
    """After a script run: the first time torch is loaded in a served process, collect what is garbage and
    freeze the rest (gc.freeze); a no-op every other time. True when it froze."""
    global _frozen
    if _frozen or not torch_loaded() or not served():
        return False
    with _lock:
        if _frozen:
            return False
        _frozen = True
    gc.collect()
    gc.freeze()
    return True

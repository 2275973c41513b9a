"""What the plane's browser sends back is untrusted: forged states reach the server the way a browser's
do (a WidgetState's JSON text) and must leave no error, keep the pin where it was and keep the URL sane."""
import json
import math
import time

import pytest
from streamlit.components.v2.bidi_component.main import _make_trigger_id

from app_pages.plane import browser_state, parse_pin, validate_state

DEEP = "[" * 10_000 + "]" * 10_000


def send(app, widget_id: str, text: str, field: str = "json_value"):
    """Run the app as after the browser set the component's state to the JSON text `text` (the other
    widgets keep their values), as Streamlit's server receives it from a websocket."""
    states = app._tree.get_widget_states()
    widget = next((w for w in states.widgets if w.id == widget_id), None) or states.widgets.add()
    widget.id = widget_id
    setattr(widget, field, text)
    return app._run(states)


def errors(app) -> list:
    return [e.value for e in app.exception] + [e.value for e in app.error]


@pytest.fixture
def latent(open_page):
    """The Latent page with its pin moved by the browser to (1.5, -2)."""
    app = open_page("app_pages/pages/latent.py")
    app.plane_id = app.get("bidi_component")[0].proto.id
    send(app, app.plane_id, json.dumps({"pin": {"x": 1.5, "y": -2}}))
    assert errors(app) == [] and app.session_state["pin"].xy == (1.5, -2.0)
    assert app.query_params["z"] == "1.5000,-2.0000"
    return app


FORGED = {
    "no pin": json.dumps({"view": "0,1,0,1"}),
    "a string pin": json.dumps({"pin": "1,2"}),
    "a pin of strings": json.dumps({"pin": {"x": "3", "y": "4"}}),
    "a pin of booleans": json.dumps({"pin": {"x": True, "y": False}}),
    "1e308": json.dumps({"pin": {"x": 1e308, "y": 0}}),
    "past the bound": json.dumps({"pin": {"x": 1000.5, "y": 0}}),
    "an int past floats": '{"pin": {"x": ' + "9" * 400 + ', "y": 0}}',
    "NaN": '{"pin": {"x": NaN, "y": 0}}',
    "Infinity": '{"pin": {"x": 1, "y": -Infinity}}',
    "a pin nested 10,000 deep": '{"pin": %s}' % DEEP,
    "a state nested 10,000 deep": DEEP,
    "a pin nested 40 deep": '{"pin": %s}' % ("[" * 40 + "]" * 40),
    "not JSON": "{pin: (1, 2",
    "a list": "[1, 2]",
    "a number": "3",
    "every other key forged": json.dumps({"view": "nan,1,0,1", "decoder_failed": ["x"] * 5, "need_decoder": "1",
                                          "need_images": 1e12, "have_decoder": {"a": 1}, "have_images": "x" * 10**5,
                                          "other": 1}),
}


@pytest.mark.parametrize("text", FORGED.values(), ids=FORGED.keys())
def test_a_forged_state_is_ignored_and_the_session_goes_on(latent, text):
    send(latent, latent.plane_id, text)
    assert errors(latent) == []
    assert latent.session_state["pin"].xy == (1.5, -2.0)                 # the pin stays where it was
    assert latent.query_params["z"] == "1.5000,-2.0000"
    assert len(latent.get("bidi_component")) == 1                         # the plane is still drawn
    send(latent, latent.plane_id, json.dumps({"pin": {"x": -0.25, "y": 999}}))   # and the next real pin works
    assert errors(latent) == [] and latent.session_state["pin"].xy == (-0.25, 999.0)
    assert latent.query_params["z"] == "-0.2500,999.0000"


@pytest.mark.parametrize("text", [DEEP, "{not json", json.dumps([{"event": "pin", "value": DEEP}])])
def test_a_forged_trigger_is_ignored(latent, text):
    send(latent, _make_trigger_id(latent.plane_id, "events"), text, field="json_trigger_value")
    assert errors(latent) == [] and latent.session_state["pin"].xy == (1.5, -2.0)


@pytest.mark.parametrize("count", [50, pytest.param(500, marks=pytest.mark.slow)])
def test_a_flood_of_pins_each_land(latent, count):
    started = time.monotonic()
    for i in range(count):
        x, y = math.cos(i) * 3, i / 100 - 2.5
        send(latent, latent.plane_id, json.dumps({"pin": {"x": x, "y": y}, "need_decoder": 1, "need_images": 1}))
        assert errors(latent) == [], i
    assert latent.session_state["pin"].xy == (x, y)
    assert latent.query_params["z"] == f"{x:.4f},{y:.4f}"
    assert time.monotonic() - started < 300


def test_python_side_forged_values_are_ignored_by_every_reader(latent):
    """States set from Python (as AppTest and a page could) go through the same checks: a huge view,
    a non-text reason and a nested request neither break the page nor reach the decoder's map."""
    latent.session_state["plane"] = {"view": "1e308,2e308,0,1", "decoder_failed": [[[]]], "need_decoder": [1]}
    latent.run()
    assert errors(latent) == []


def test_validate_state_keeps_only_known_keys_with_checked_values():
    nested = []
    for _ in range(10_000):
        nested = [nested]
    raw = {"pin": {"x": 1, "y": -2.5}, "view": "-1,1,-2,2", "have_decoder": "decoder-0123abc", "have_images":
           "fashion-test-ff00", "need_decoder": 3, "need_images": 0, "decoder_failed": "no\x00 WebGL\u202e here  " * 50,
           "extra": nested}
    state = validate_state(raw)
    assert state["pin"] == (1.0, -2.5) and state["view"] == (-1.0, 1.0, -2.0, 2.0)
    assert len(state["decoder_failed"]) == 300 and state["decoder_failed"].startswith("no WebGL here no")
    assert set(state) == {"pin", "view", "decoder_failed"}      # the blobs come over HTTP: no have_* or need_*
    for bad in (None, nested, "pin", 5, {"pin": nested, "view": nested, "need_decoder": True, "decoder_failed": ""},
                {"pin": {"x": 1e308, "y": 0}, "view": "0,1e308,0,1", "need_images": -1, "have_images": "a b"}):
        assert validate_state(bad) == {}
    assert parse_pin({"x": 1000, "y": -1000}) == (1000.0, -1000.0) and parse_pin({"x": 1000.01, "y": 0}) is None
    assert browser_state("no such plane") == {}

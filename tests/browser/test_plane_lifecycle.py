"""The plane's module (vae/web/plane.js) on a bare page, with no host: destroy() ends everything it
started. Before destroy a tap reports a pin, and a zoom tells the host at once (onView) and, with the
decoder's map on, reports the view a moment later; after destroy neither the element's listeners nor
the pending timer reach the host."""
import base64

import numpy as np

from vae import web

DATA = {
    "model": "m", "view_key": "v", "axes": ["z0", "z1"], "extent": [-3, 3, -3, 3], "latent_dim": 2,
    "basis": {"origin": [0, 0], "u": [1, 0], "v": [0, 1]}, "interactive": True, "pin": None, "pin_serial": 0,
    "decoder": {"off": True}, "images_key": None, "manifold": None, "mark": None, "pin_image": None,
    "overlays": None, "frames": None, "class_names": ["a", "b"], "item": "item",
    "points": base64.b64encode(np.array([[0, 0], [1, 1], [-1, 2]], "<f4").tobytes()).decode(),
    "labels": base64.b64encode(bytes([0, 1, 1])).decode(), "points_key": "p",
    "decoder_map": {"key": "k", "n": 2, "extent": [-3, 3, -3, 3], "names": ["a", "b"], "share": 0.5,
                    "classes": base64.b64encode(bytes([0, 1, 1, 0])).decode(),
                    "confidence": base64.b64encode(bytes([255, 128, 200, 30])).decode()},
}


def test_destroy_removes_every_listener_and_pending_timer(chromium, tmp_path):
    entry = tmp_path / "entry.js"
    entry.write_text('import { LatentPlane } from "vae/web/plane.js";\nwindow.LatentPlane = LatentPlane;\n')
    page = chromium.new_page(viewport={"width": 900, "height": 900})
    page.set_content("<html><body><div id='root' style='width: 600px'></div></body></html>")
    page.add_script_tag(content=web.bundle(entry))
    page.add_style_tag(content=web.stylesheet())
    page.evaluate("""(data) => {
        window.reports = [];
        window.plane = new LatentPlane(document.getElementById('root'), {report: (n, v) => reports.push(n),
                                                                          onView: () => reports.push('onView')});
        plane.update(data);
        window.tap = (target) => {
            const r = target.getBoundingClientRect(), at = {clientX: r.left + 50, clientY: r.top + 50, pointerId: 1,
                                                           pointerType: 'mouse', bubbles: true};
            target.dispatchEvent(new PointerEvent('pointerdown', at));
            target.dispatchEvent(new PointerEvent('pointerup', at));
        };
        window.wheel = (target) => {
            const r = target.getBoundingClientRect();
            target.dispatchEvent(new WheelEvent('wheel', {clientX: r.left + 80, clientY: r.top + 80, deltaY: -200,
                                                          ctrlKey: true, bubbles: true, cancelable: true}));
        };
    }""", DATA)
    page.wait_for_timeout(400)
    page.evaluate("() => { reports.length = 0; tap(plane.wrap); wheel(plane.wrap); }")
    page.wait_for_timeout(500)
    assert page.evaluate("() => reports") == ["pin", "onView", "view"]   # alive: all reach the host

    page.evaluate("""() => { const wrap = plane.wrap;
        wheel(wrap); reports.length = 0;                               // a view report is now pending
        plane.destroy(); tap(wrap); wheel(wrap); }""")
    page.wait_for_timeout(600)
    assert page.evaluate("() => reports") == []
    assert page.evaluate("() => document.querySelector('.vlp') === null")
    page.close()

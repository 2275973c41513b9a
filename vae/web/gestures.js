// Every input the plane takes, in one place: pointer (mouse, pen, touch), wheel and keys on `surface`,
// turned into the plane's verbs on `target`: hover, leave, tap, pan, zoomAt, box (shift-drag), key, hint.
// Gestures share the page, as web maps' cooperative gestures do (Google Maps, Mapbox GL's
// cooperativeGestures): the wheel scrolls the page and Ctrl/⌘ + wheel (or a trackpad's pinch) zooms;
// on a touch screen one finger scrolls the page and two fingers pan and pinch; a tap pins. While
// `target.immersive()` (fullscreen) the wheel and one finger act on the plane directly.
// Hover decodes once per animation frame, for the latest pointer position: a burst of queued moves
// costs one decoding, not one each.
// Listeners go with `signal` (an AbortController's), so the host removes them all at once.

const TAP_SLOP = 6;              // CSS px a press may move and still count as a click or tap
const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
export const ZOOM_KEY = MAC ? "⌘" : "Ctrl";

export function attachGestures(surface, keys, target, signal) {
  const pointers = new Map();
  let pinch = null, boxing = null, wasPinching = false, hoverAt = null, hoverFrame = 0;
  const local = (e) => { const r = surface.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  const pinchState = () => {
    const [a, b] = [...pointers.values()];
    return { mx: (a.px + b.px) / 2, my: (a.py + b.py) / 2, distance: Math.hypot(a.px - b.px, a.py - b.py) };
  };
  const on = (element, type, handler, options = {}) => element.addEventListener(type, handler, { ...options, signal });
  // The latest pointer position, decoded at the next frame; `since` is the oldest waiting event's time.
  const hover = (px, py, since) => {
    hoverAt = { px, py, since: hoverAt ? hoverAt.since : since };
    if (!hoverFrame) {
      hoverFrame = requestAnimationFrame(() => {
        hoverFrame = 0;
        const at = hoverAt; hoverAt = null;
        if (at) target.hover(at.px, at.py, at.since);
      });
    }
  };
  signal.addEventListener("abort", () => cancelAnimationFrame(hoverFrame));

  on(surface, "pointerdown", (e) => {
    const [px, py] = local(e);
    if (e.pointerType === "touch" && e.isPrimary) {          // a new touch gesture: fingers the page took are gone
      for (const [id, pointer] of pointers) if (pointer.type === "touch") pointers.delete(id);
      pinch = null; wasPinching = false;
    }
    if (e.pointerType !== "touch" || target.immersive()) surface.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { px, py, startX: px, startY: py, moved: false, type: e.pointerType });
    boxing = e.shiftKey && e.pointerType === "mouse" ? { x: px, y: py } : null;
    if (pointers.size === 2) pinch = pinchState();
    keys.focus({ preventScroll: true });
  });
  on(surface, "pointermove", (e) => {
    const queued = window.__vaeHoverQueued;                  // a benchmark's hook (bench/browser_plane.py), if it set one
    if (queued) queued.push(performance.now() - e.timeStamp);
    const [px, py] = local(e);
    const pointer = pointers.get(e.pointerId);
    if (!pointer) { if (e.pointerType !== "touch") hover(px, py, e.timeStamp); return; }
    const dx = px - pointer.px, dy = py - pointer.py;
    pointer.px = px; pointer.py = py;
    if (Math.hypot(px - pointer.startX, py - pointer.startY) > TAP_SLOP) pointer.moved = true;
    if (pointers.size >= 2 && pinch) {
      const now = pinchState(), was = pinch;
      pinch = now;
      target.zoomAt(now.mx, now.my, was.distance / Math.max(now.distance, 1));
      target.pan(now.mx - was.mx, now.my - was.my);
    } else if (boxing) {
      if (pointer.moved) target.box(boxing.x, boxing.y, px, py, false);
    } else if (pointer.moved && (pointer.type !== "touch" || target.immersive())) {
      target.pan(dx, dy);                                    // one finger outside fullscreen scrolls the page instead
    }
    if (e.pointerType !== "touch") hover(px, py, e.timeStamp);
  });
  const release = (e, cancelled) => {
    const pointer = pointers.get(e.pointerId);
    if (!pointer) return;
    pointers.delete(e.pointerId);
    if (pointers.size < 2) pinch = null;
    const [px, py] = local(e);
    if (boxing) {
      const box = boxing; boxing = null;
      target.box(box.x, box.y, px, py, pointer.moved && !cancelled);
      if (pointer.moved && !cancelled) return;
    }
    if (pointer.type === "touch" && (pointer.moved || cancelled) && !wasPinching && !pointers.size && !target.immersive()) {
      target.hint("touch");                                  // a one-finger swipe scrolled the page: say how to pan
    }
    if (!pointer.moved && !cancelled && !wasPinching) target.tap(px, py, e.pointerType);
    wasPinching = pointers.size > 0;
  };
  on(surface, "pointerup", (e) => release(e, false));
  on(surface, "pointercancel", (e) => release(e, true));
  on(surface, "pointerleave", (e) => { if (e.pointerType === "mouse" && !pointers.size) { hoverAt = null; target.leave(); } });
  // Two fingers are the plane's: keep the browser from scrolling or zooming the page with them.
  on(surface, "touchmove", (e) => { if (e.touches.length >= 2 || target.immersive()) e.preventDefault(); }, { passive: false });
  on(surface, "wheel", (e) => {
    if (!(e.ctrlKey || e.metaKey || target.immersive())) { target.hint("wheel"); return; }   // the page scrolls
    e.preventDefault();
    const [px, py] = local(e);
    target.zoomAt(px, py, Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.deltaMode ? 0.05 : 0.0015)))));
    hover(px, py, e.timeStamp);
  }, { passive: false });
  on(keys, "keydown", (e) => target.key(e));
}

// Every input the plane takes, in one place: pointer (mouse, pen, touch), wheel and keys on `surface`,
// turned into the plane's verbs on `target`: hover, leave, tap, pan, zoomAt, box (shift-drag), key.
// Listeners go with `signal` (an AbortController's), so the host removes them all at once.

const TAP_SLOP = 6;              // CSS px a press may move and still count as a click or tap

export function attachGestures(surface, keys, target, signal) {
  const pointers = new Map();
  let pinch = null, boxing = null, wasPinching = false;
  const local = (e) => { const r = surface.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  const pinchState = () => {
    const [a, b] = [...pointers.values()];
    return { mx: (a.px + b.px) / 2, my: (a.py + b.py) / 2, distance: Math.hypot(a.px - b.px, a.py - b.py) };
  };
  const on = (element, type, handler, options = {}) => element.addEventListener(type, handler, { ...options, signal });

  on(surface, "pointerdown", (e) => {
    surface.setPointerCapture(e.pointerId);
    const [px, py] = local(e);
    pointers.set(e.pointerId, { px, py, startX: px, startY: py, moved: false });
    boxing = e.shiftKey && e.pointerType === "mouse" ? { x: px, y: py } : null;
    if (pointers.size === 2) pinch = pinchState();
    keys.focus({ preventScroll: true });
  });
  on(surface, "pointermove", (e) => {
    const started = performance.now();
    const queued = window.__vaeHoverQueued;                  // a benchmark's hook (bench/browser_plane.py), if it set one
    if (queued) queued.push(started - e.timeStamp);
    const [px, py] = local(e);
    const pointer = pointers.get(e.pointerId);
    if (!pointer) { if (e.pointerType !== "touch") target.hover(px, py, started); return; }
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
    } else if (pointer.moved) {
      target.pan(dx, dy);
    }
    if (e.pointerType !== "touch") target.hover(px, py, started);
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
    if (!pointer.moved && !cancelled && !wasPinching) target.tap(px, py, e.pointerType);
    wasPinching = pointers.size > 0;
  };
  on(surface, "pointerup", (e) => release(e, false));
  on(surface, "pointercancel", (e) => release(e, true));
  on(surface, "pointerleave", (e) => { if (e.pointerType === "mouse" && !pointers.size) target.leave(); });
  on(surface, "wheel", (e) => {
    e.preventDefault();
    const [px, py] = local(e);
    target.zoomAt(px, py, Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.deltaMode ? 0.05 : 0.0015)))));
    target.hover(px, py, performance.now());
  }, { passive: false });
  on(keys, "keydown", (e) => target.key(e));
}

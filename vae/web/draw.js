// Drawing on the plane's canvases: the dots, the grid and ticks, the decoder's map under them, the
// marks over them (pin, cross, samples, path, ellipse), and 28×28 images. Pure functions of what they
// are given; the colours of the surface come from the theme (plane.css: --vlp-* properties).

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const MAP_DEPTH = 0.5;       // the decoder's map at full confidence: half class colour, half white, so dots stay visible

// The colour of class `label`: the ten of matplotlib's tab10, then hues a golden angle apart.
export function classColour(label) {
  if (label < PALETTE.length) return PALETTE[label];
  return `hsl(${Math.round((label * 137.508) % 360)}, 65%, 45%)`;
}
function classRgb(label) {
  if (label < PALETTE.length) return [1, 3, 5].map((i) => parseInt(PALETTE[label].slice(i, i + 2), 16));
  const h = ((label * 137.508) % 360) / 60, s = 0.65, l = 0.45, c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs((h % 2) - 1)), m = l - c / 2;
  const [r, g, b] = [[c, x, 0], [x, c, 0], [0, c, x], [0, x, c], [x, 0, c], [c, 0, x]][Math.floor(h) % 6];
  return [r, g, b].map((v) => Math.round(255 * (v + m)));
}

// The decoder's map: hue from the class (the dots' colour), depth from the confidence, from white at
// chance (1 / number of classes) to MAP_DEPTH of the class colour at certainty.
export function mapColour(label, confidence, chance) {
  const depth = MAP_DEPTH * Math.min(1, Math.max(0, (confidence - chance) / (1 - chance)));
  return classRgb(label).map((c) => Math.round(255 + depth * (c - 255)));
}

export function niceStep(span, target) {
  const raw = span / target, power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

// 784 values from `offset` of `pixels`, probabilities in [0, 1] (Float32Array) or grey levels
// (Uint8Array), into ImageData `image` as the 28×28 tile whose top-left corner is (left, top).
export function putTile(image, pixels, offset, left, top) {
  const bytes = pixels instanceof Uint8Array;
  for (let p = 0; p < 784; p++) {
    const value = pixels[offset + p], v = bytes ? value : Math.round(Math.min(1, Math.max(0, value)) * 255);
    const o = 4 * ((top + Math.floor(p / 28)) * image.width + left + (p % 28));
    image.data[o] = image.data[o + 1] = image.data[o + 2] = v; image.data[o + 3] = 255;
  }
}

// One such image onto a 28×28 canvas that CSS scales up with crisp pixels.
export function drawDigit(canvas, pixels, offset = 0) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(28, 28);
  putTile(image, pixels, offset, 0, 0);
  context.putImageData(image, 0, 0);
}

// The theme's colours for the canvases, read from the element's CSS custom properties.
export function themeColours(element) {
  const style = getComputedStyle(element), get = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return { surface: get("--vlp-surface", "#f7f7f7"), grid: get("--vlp-grid", "#e2e2e2"),
           tick: get("--vlp-tick", "#555"), ink: get("--vlp-ink", "#111"), halo: get("--vlp-halo", "#fff") };
}

// The test set's dots by class: one list of indices per class, so each class is one fill colour.
export function groupByClass(labels, classes) {
  const groups = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) if (labels[i] < classes) groups[labels[i]].push(i);
  return groups;
}

// The plane: surface, map, grid, dots, ticks and axis names. `p` holds ctx, size, view, points,
// groups, hidden (Set of classes), map ({extent, canvas} or null), axes, colours.
export function drawPlane(p) {
  const { ctx, size, view, points, colours } = p;
  ctx.fillStyle = colours.surface; ctx.fillRect(0, 0, size, size);
  const at = (x, y) => view.toPixel(x, y, size);
  if (p.map) {                                               // the decoder's map, one crisp cell per lattice point
    const [x0, x1, y0, y1] = p.map.extent, [left, top] = at(x0, y1), [right, bottom] = at(x1, y0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(p.map.canvas, left, top, right - left, bottom - top);
  }
  const step = niceStep(2 * view.half, size < 400 ? 4 : 6), ticks = [];
  for (let t = Math.ceil((view.cx - view.half) / step) * step; t <= view.cx + view.half; t += step) ticks.push(["x", t]);
  for (let t = Math.ceil((view.cy - view.half) / step) * step; t <= view.cy + view.half; t += step) ticks.push(["y", t]);
  ctx.strokeStyle = colours.grid; ctx.lineWidth = 1;
  for (const [axis, t] of ticks) {
    const [px, py] = at(t, t);
    ctx.beginPath();
    if (axis === "x") { ctx.moveTo(px, 0); ctx.lineTo(px, size); } else { ctx.moveTo(0, py); ctx.lineTo(size, py); }
    ctx.stroke();
  }
  const r = size < 400 ? 1.1 : size > 900 ? 1.8 : 1.4;
  ctx.globalAlpha = p.map ? 0.85 : 0.6;                      // over the map's colours the dots need more ink
  p.groups.forEach((members, label) => {
    if (p.hidden.has(label)) return;
    ctx.fillStyle = classColour(label);
    for (const i of members) {
      const [px, py] = at(points[2 * i], points[2 * i + 1]);
      if (px < -2 || py < -2 || px > size + 2 || py > size + 2) continue;
      ctx.fillRect(px - r, py - r, 2 * r, 2 * r);
    }
  });
  ctx.globalAlpha = 1;
  ctx.fillStyle = colours.tick; ctx.font = "11px sans-serif";
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  for (const [axis, t] of ticks) {
    const [px, py] = at(t, t), label = t.toFixed(decimals);
    if (axis === "x" && px > 24 && px < size - 60) ctx.fillText(label, px + 2, size - 4);
    if (axis === "y" && py > 24 && py < size - 24) ctx.fillText(label, 3, py - 3);
  }
  ctx.font = "bold 12px sans-serif";
  ctx.fillText(p.axes[0] + " \u2192", size - 40, size - 18);
  ctx.fillText("\u2191 " + p.axes[1], 6, 14);
}

// The marks over the dots. `o` holds ctx, size, view, overlays ({points, path, ellipse} or null),
// mark ([x, y] or null), pin ([x, y] or null), hover ({x, y, colour} or null), colours.
export function drawOverlay(o) {
  const { ctx, size, view, colours } = o, extra = o.overlays || {};
  const at = (x, y) => view.toPixel(x, y, size);
  ctx.clearRect(0, 0, size, size);
  if (extra.ellipse) {                                       // a posterior q(z|x): mean ± 2σ on the two axes
    const e = extra.ellipse, [cx, cy] = at(e.x, e.y), s = size / (2 * view.half);
    ctx.beginPath(); ctx.ellipse(cx, cy, Math.max(1, e.rx * s), Math.max(1, e.ry * s), 0, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(214, 39, 40, 0.12)"; ctx.fill();
    ctx.lineWidth = 2; ctx.strokeStyle = "#d62728"; ctx.setLineDash([5, 3]); ctx.stroke(); ctx.setLineDash([]);
  }
  if (extra.path && extra.path.length > 1) {                 // an interpolation: its points joined, A and B named
    ctx.lineWidth = 2.5; ctx.strokeStyle = colours.ink; ctx.beginPath();
    extra.path.forEach(([x, y], i) => { const [px, py] = at(x, y); i ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
    ctx.stroke();
    ctx.fillStyle = colours.ink;
    for (const [x, y] of extra.path) { const [px, py] = at(x, y); ctx.beginPath(); ctx.arc(px, py, 2.5, 0, 2 * Math.PI); ctx.fill(); }
    ctx.font = "bold 13px sans-serif";
    for (const [label, [x, y]] of [["A", extra.path[0]], ["B", extra.path[extra.path.length - 1]]]) {
      const [px, py] = at(x, y);
      ctx.lineWidth = 3; ctx.strokeStyle = colours.halo; ctx.strokeText(label, px + 6, py - 6); ctx.fillText(label, px + 6, py - 6);
    }
  }
  for (const [x, y] of extra.points || []) {                // samples from the prior: hollow diamonds
    const [px, py] = at(x, y);
    ctx.beginPath(); ctx.moveTo(px, py - 6); ctx.lineTo(px + 6, py); ctx.lineTo(px, py + 6); ctx.lineTo(px - 6, py); ctx.closePath();
    ctx.lineWidth = 3.5; ctx.strokeStyle = colours.halo; ctx.stroke(); ctx.lineWidth = 2; ctx.strokeStyle = colours.ink; ctx.stroke();
  }
  if (o.mark) {                                              // the Reconstruct page's digit: a red cross
    const [px, py] = at(o.mark[0], o.mark[1]), d = 8;
    ctx.lineCap = "round";
    for (const [width, stroke] of [[5, colours.halo], [2.5, "#d62728"]]) {
      ctx.lineWidth = width; ctx.strokeStyle = stroke; ctx.beginPath();
      ctx.moveTo(px - d, py - d); ctx.lineTo(px + d, py + d); ctx.moveTo(px + d, py - d); ctx.lineTo(px - d, py + d); ctx.stroke();
    }
  }
  if (o.pin) {                                               // the pinned point: a ring with a dot
    const [px, py] = at(o.pin[0], o.pin[1]);
    ctx.lineWidth = 4; ctx.strokeStyle = "#fff"; ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 2.5; ctx.strokeStyle = "#000"; ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#000"; ctx.beginPath(); ctx.arc(px, py, 2.5, 0, 2 * Math.PI); ctx.fill();
  }
  if (o.hover) {                                             // the dot under the pointer: a ring in its colour
    const [px, py] = at(o.hover.x, o.hover.y);
    ctx.lineWidth = 2; ctx.strokeStyle = o.hover.colour;
    ctx.beginPath(); ctx.arc(px, py, 5, 0, 2 * Math.PI); ctx.stroke();
  }
}

// The visible square of the latent plane and the one transform between it and the canvas: a square
// centred on (cx, cy), `half` latent units from centre to edge, drawn `size` CSS pixels wide. Values
// of this class never change; zooming and panning make new ones.

const MIN_HALF = 1e-3, MAX_HALF = 1e3;

export class View {
  constructor(cx, cy, half) {
    this.cx = cx; this.cy = cy; this.half = Math.min(Math.max(half, MIN_HALF), MAX_HALF);
    Object.freeze(this);
  }

  // The square around extent [x0, x1, y0, y1] as wide as its longer side (app_pages.plane.home_square).
  static home([x0, x1, y0, y1]) {
    return new View((x0 + x1) / 2, (y0 + y1) / 2, Math.max(x1 - x0, y1 - y0) / 2);
  }

  // "cx,cy,half" (a link's view) -> View, or null when it is not three finite numbers in range.
  static parse(text) {
    const parts = String(text || "").split(",").map(Number);
    if (parts.length !== 3 || !parts.every(Number.isFinite)) return null;
    const [cx, cy, half] = parts;
    if (half < MIN_HALF || half > MAX_HALF || Math.abs(cx) > 1e4 || Math.abs(cy) > 1e4) return null;
    return new View(cx, cy, half);
  }

  toString() {
    const r = (t) => Number(t.toPrecision(6));
    return `${r(this.cx)},${r(this.cy)},${r(this.half)}`;
  }

  // [x0, x1, y0, y1] in latent units.
  square() { return [this.cx - this.half, this.cx + this.half, this.cy - this.half, this.cy + this.half]; }

  // Latent (x, y) -> canvas pixels (px, py), y growing downwards, for a canvas `size` px wide; and back.
  toPixel(x, y, size) {
    const s = size / (2 * this.half);
    return [(x - this.cx + this.half) * s, (this.cy + this.half - y) * s];
  }
  toLatent(px, py, size) {
    const s = (2 * this.half) / size;
    return [this.cx - this.half + px * s, this.cy + this.half - py * s];
  }
  unitsPerPixel(size) { return (2 * this.half) / size; }

  // Zoom by `factor` (< 1: in) keeping the latent point under pixel (px, py) where it is.
  zoomedAt(px, py, factor, size) {
    const [x, y] = this.toLatent(px, py, size);
    const half = Math.min(Math.max(this.half * factor, MIN_HALF), MAX_HALF), k = half / this.half;
    return new View(x - (x - this.cx) * k, y - (y - this.cy) * k, half);
  }
  // Move the content by (dx, dy) pixels, as a drag does.
  panned(dx, dy, size) {
    const s = this.unitsPerPixel(size);
    return new View(this.cx - dx * s, this.cy + dy * s, this.half);
  }
  // The square around the pixel box (px0, py0)-(px1, py1), or null when the box is too small.
  boxed(px0, py0, px1, py1, size) {
    const a = this.toLatent(Math.min(px0, px1), Math.max(py0, py1), size);
    const b = this.toLatent(Math.max(px0, px1), Math.min(py0, py1), size);
    const half = Math.max(b[0] - a[0], b[1] - a[1]) / 2;
    return half > MIN_HALF ? new View((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, half) : null;
  }
}

// The learned manifold: an n×n grid of decodings of the visible square, spaced evenly in z or evenly
// in probability under the prior N(0, 1), drawn a few rows per animation frame so that the pointer
// stays free, and dropped the moment the view moves on.

import { vaeErf } from "./decoder.js";
import { putTile } from "./draw.js";

// Standard normal CDF and its inverse (Acklam's rational approximation, relative error < 1.2e-9).
export function normalCdf(x) { return 0.5 * (1 + vaeErf(x / Math.SQRT2)); }
export function normalQuantile(p) {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const q0 = 0.02425;
  if (p < q0) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - q0) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// The n tile centres between lo and hi: evenly spaced, or at evenly spaced prior probabilities.
export function tileCentres(lo, hi, n, spacing) {
  if (spacing === "gaussian") {
    const clamp = (p) => Math.min(1 - 1e-12, Math.max(1e-12, p));
    const u0 = normalCdf(lo), u1 = normalCdf(hi);
    return Array.from({ length: n }, (_, i) => normalQuantile(clamp(u0 + ((i + 0.5) / n) * (u1 - u0))));
  }
  return Array.from({ length: n }, (_, i) => lo + ((i + 0.5) / n) * (hi - lo));
}

// Draw the grid for `square` [x0, x1, y0, y1] onto `canvas` (side CSS px): `latent(x, y)` maps a
// plane point to its latent vector, `decoder` decodes. Returns {grid: {n, xs, ys}, cancel}; `done`
// runs when the last row is drawn. While `pause()` says so, frames go by without a row (the sliders'
// traversals, which the user is looking at, come first).
export function renderManifold({ canvas, side, decoder, latent, latentDim, square, n, spacing, done, pause }) {
  const [x0, x1, y0, y1] = square;
  const xs = tileCentres(x0, x1, n, spacing), ys = tileCentres(y0, y1, n, spacing).reverse();
  const tiles = document.createElement("canvas");
  tiles.width = tiles.height = 28 * n;
  const tctx = tiles.getContext("2d"), image = tctx.createImageData(28 * n, 28 * n);
  const pixels = Math.round(side * (window.devicePixelRatio || 1));
  canvas.width = canvas.height = pixels;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  let row = 0, frame = 0, cancelled = false;
  const step = () => {
    if (cancelled) return;
    if (pause && pause()) { frame = requestAnimationFrame(step); return; }
    const started = performance.now();
    while (row < n && performance.now() - started < 12) {
      const z = new Float32Array(n * latentDim);
      for (let i = 0; i < n; i++) z.set(latent(xs[i], ys[row]), i * latentDim);
      const out = decoder.decode(z, n);
      for (let i = 0; i < n; i++) putTile(image, out, i * 784, i * 28, row * 28);
      row++;
    }
    tctx.putImageData(image, 0, 0);
    ctx.drawImage(tiles, 0, 0, pixels, pixels);
    if (row < n) frame = requestAnimationFrame(step);
    else if (done) done();
  };
  frame = requestAnimationFrame(step);
  return { grid: { n, xs, ys }, cancel: () => { cancelled = true; cancelAnimationFrame(frame); } };
}

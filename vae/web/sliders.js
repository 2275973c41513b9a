// One slider per latent dimension, for a model with more than two, and beside each its traversal: the
// decodings of that dimension from −3 to +3 around the current point, the others as they are. The
// point is the plane's pinned point in full, z = origin + x·u + y·v: the sliders of the plane's own
// directions move the pin, the others move the origin, which is what the whole plane decodes around.
// It draws and reports; plane.js owns the point and tells it what to show (show(z)).

import { drawDigit, putTile } from "./draw.js";
import { say } from "./words.js";

export const SLIDER_LIMIT = 4;                           // each slider spans ±4, the prior's σ being 1
export const TRAVERSAL = [-3, -2, -1, 0, 1, 2, 3];       // a traversal's offsets from z_i, in the prior's σ
export const INACTIVE_KL = 0.05;                         // nats: a dimension below this is drawn as unused
const TRAVERSAL_WAIT = 120;                              // ms after the last move before the traversals are drawn

export class LatentSliders {
  // box: the element to fill; onInput(i, value) when the user moves slider i.
  constructor(box, { onInput, signal }) {
    this.box = box; this.onInput = onInput; this.signal = signal;
    this.dim = 0; this.rows = []; this.z = null; this.job = 0; this.serial = 0;
  }

  // Rows for `dim` dimensions with their KL (nats), in `words`; `axes` names the plane's two directions
  // when they are dimensions ("z3"), so their rows say so.
  setup({ dim, kl, words, axes, pca }) {
    const key = JSON.stringify([dim, kl, axes, pca, words.dims_title]);
    if (key === this.key) return;
    this.key = key; this.words = words; this.dim = dim;
    const head = document.createElement("div"), text = document.createElement("div");
    head.className = "vlp-dims-head";
    const title = document.createElement("div");
    title.className = "vlp-dims-title"; title.textContent = words.dims_title;
    const help = document.createElement("div");
    help.className = "vlp-dims-help";
    help.textContent = pca ? words.dims_help_pca : say(words, "dims_help", { x_axis: axes[0], y_axis: axes[1] });
    text.append(title, help);
    this.preview = document.createElement("canvas");
    this.preview.width = this.preview.height = 28;
    this.preview.className = "vlp-dims-preview";
    this.preview.setAttribute("aria-label", words.dims_preview_label);
    head.append(this.preview, text);
    const scale = document.createElement("div");
    scale.className = "vlp-dims-scale";
    scale.setAttribute("aria-hidden", "true");
    for (const offset of TRAVERSAL) {
      const tick = document.createElement("span");
      tick.textContent = offset === 0 ? "z" : `${offset > 0 ? "+" : "−"}${Math.abs(offset)}`;
      scale.append(tick);
    }
    const scaleRow = document.createElement("div");
    scaleRow.className = "vlp-dim vlp-dims-scale-row";
    scaleRow.append(document.createElement("span"), document.createElement("span"), document.createElement("span"),
                    document.createElement("span"), scale);
    this.rows = [];
    const list = document.createElement("div");
    list.className = "vlp-dims-list";
    list.append(scaleRow);
    for (let i = 0; i < dim; i++) {
      const row = document.createElement("div"), label = document.createElement("label");
      const input = document.createElement("input"), value = document.createElement("output");
      const klBox = document.createElement("span"), bar = document.createElement("span"), canvas = document.createElement("canvas");
      const name = `z${i}`, axis = axes.indexOf(name);
      row.className = "vlp-dim"; row.dataset.dim = String(i);
      label.textContent = name;
      if (axis >= 0) { row.classList.add("vlp-dim-axis"); label.title = axis === 0 ? words.dims_horizontal : words.dims_vertical; }
      Object.assign(input, { type: "range", min: String(-SLIDER_LIMIT), max: String(SLIDER_LIMIT), step: "0.01", value: "0" });
      input.setAttribute("aria-label", say(words, "dims_slider_label", { name }));
      input.addEventListener("input", (e) => {
        this.onInput(i, Number(input.value));
        const timings = window.__vaeSliderTimings;             // a benchmark's hook (bench/browser_plane.py), if set
        if (timings) timings.push(performance.now() - e.timeStamp);
      }, { signal: this.signal });
      const nats = kl ? kl[i] : null, inactive = nats !== null && nats < INACTIVE_KL;
      klBox.className = "vlp-dim-kl";
      klBox.textContent = nats === null ? "" : say(words, "dims_kl", { kl: nats.toFixed(2) });
      klBox.title = inactive ? words.dims_inactive : words.dims_kl_title;
      bar.className = "vlp-dim-bar";
      bar.style.width = `${nats === null ? 0 : Math.min(100, (100 * nats) / Math.max(...kl, 1e-9))}%`;
      klBox.append(bar);
      row.classList.toggle("vlp-dim-inactive", inactive);
      canvas.className = "vlp-dim-traversal";
      canvas.width = 28 * TRAVERSAL.length; canvas.height = 28;
      canvas.setAttribute("aria-label", say(words, "dims_traversal_label", { name }));
      const id = `vlp-dim-${i}-${Math.random().toString(36).slice(2, 8)}`;
      input.id = id; label.htmlFor = id;
      row.append(label, input, value, klBox, canvas);
      list.append(row);
      this.rows.push({ input, value, canvas });
    }
    this.box.replaceChildren(head, list);
    this.z = null; this.shown = null;
    cancelAnimationFrame(this.job); clearTimeout(this.wait); this.drawing = false;
  }

  // Show the point z (Float32Array, D): the sliders at it, its decoding at once, the traversals after,
  // a few rows an animation frame (a newer point drops the drawing under way).
  show(z, decoder) {
    if (!this.rows.length) return;
    const key = `${Array.from(z).join(",")}|${decoder ? "decoder" : ""}`;
    if (key === this.shown && decoder === this.decoder) return;   // a rerun that moved nothing: drawn already
    this.shown = key; this.decoder = decoder;
    this.z = Float32Array.from(z);
    this.rows.forEach(({ input, value }, i) => {
      const clamped = Math.max(-SLIDER_LIMIT, Math.min(SLIDER_LIMIT, z[i]));
      if (document.activeElement !== input || Number(input.value) !== clamped) input.value = String(clamped);
      value.textContent = z[i].toFixed(2);
    });
    this.box.dataset.z = Array.from(this.z, (v) => v.toFixed(6)).join(",");
    if (!decoder) return;
    drawDigit(this.preview, decoder.decode(this.z, 1));
    this.preview.dataset.z = this.box.dataset.z;
    cancelAnimationFrame(this.job);                           // the traversals once the slider rests: while it
    clearTimeout(this.wait);                                  // moves, each input decodes the one point alone
    delete this.box.dataset.traversed;
    this.drawing = true;                                      // until the last row: the plane's manifold waits
    this.wait = setTimeout(() => this.drawTraversals(decoder), TRAVERSAL_WAIT);
  }

  drawTraversals(decoder) {
    const z = this.z, d = z.length, steps = TRAVERSAL.length, serial = ++this.serial;
    let row = 0;
    const step = () => {
      const started = performance.now();
      while (row < d && performance.now() - started < 10) {
        const points = new Float32Array(steps * d);
        for (let s = 0; s < steps; s++) { points.set(z, s * d); points[s * d + row] = z[row] + TRAVERSAL[s]; }
        const out = decoder.decode(points, steps), canvas = this.rows[row].canvas, ctx = canvas.getContext("2d");
        const image = ctx.createImageData(28 * steps, 28);
        for (let s = 0; s < steps; s++) putTile(image, out, s * 784, s * 28, 0);
        ctx.putImageData(image, 0, 0);
        row++;
      }
      if (row < d) this.job = requestAnimationFrame(step);
      else { this.drawing = false; this.box.dataset.traversed = `${serial}:${this.box.dataset.z}`; }
    };
    this.job = requestAnimationFrame(step);
  }

  destroy() { cancelAnimationFrame(this.job); clearTimeout(this.wait); this.drawing = false; }
}

// The latent plane: the encoded test digits on a canvas that zooms and pans, the decoder run in the
// browser on every pointer move, pins sent back to Python, and the manifold of decodings.
// decoder.js (VaeDecoder, vaeHalfToFloat) is prepended to this file by app_pages/plane/__init__.py.

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const RGB = COLOURS.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
const MAP_DEPTH = 0.5;           // the decoder's map at full confidence: half class colour, half white, so dots stay visible
const TAP_SLOP = 6;              // CSS px a press may move and still count as a click or tap
const DOT_RADIUS = 8;            // CSS px within which the pointer is "on" a dot

// What survives reruns and page switches in this browser tab: decoders and test images by key
// (so Python sends them once), and each plane's view (zoom) by model and dimensions.
const CACHE = (window.__vaeLatentCache = window.__vaeLatentCache || { blobs: new Map(), views: new Map() });
// Hover benchmark marks (bench/browser_hover.py): milliseconds from entering the pointer handler to the
// preview canvas holding the new decoding, and from the event's creation to entering the handler.
const TIMINGS = (window.__vaeHoverTimings = window.__vaeHoverTimings || []);
const QUEUED = (window.__vaeHoverQueued = window.__vaeHoverQueued || []);

function bytesFromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function remember(key, value) {
  CACHE.blobs.set(key, value);
  while (CACHE.blobs.size > 6) CACHE.blobs.delete(CACHE.blobs.keys().next().value);   // oldest first
}

// Standard normal CDF and its inverse (Acklam's rational approximation, relative error < 1.2e-9).
function normalCdf(x) { return 0.5 * (1 + vaeErf(x / Math.SQRT2)); }
function normalQuantile(p) {
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

function niceStep(span, target) {
  const raw = span / target, power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

function mapColour(label, confidence, chance) {
  // The decoder's map: hue from the class (the dots' colour), depth from the confidence, from white
  // at chance (1 / number of classes) to MAP_DEPTH of the class colour at certainty.
  const depth = MAP_DEPTH * Math.min(1, Math.max(0, (confidence - chance) / (1 - chance)));
  return RGB[label % RGB.length].map((c) => Math.round(255 + depth * (c - 255)));
}

function drawDigit(canvas, pixels, offset = 0) {
  // 784 values, probabilities in [0, 1] (Float32Array) or grey levels (Uint8Array), onto a 28×28
  // canvas that CSS scales up with crisp pixels.
  const context = canvas.getContext("2d");
  const image = context.createImageData(28, 28);
  const bytes = pixels instanceof Uint8Array;
  for (let i = 0; i < 784; i++) {
    const p = pixels[offset + i];
    const v = bytes ? p : Math.round(Math.min(1, Math.max(0, p)) * 255);
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

const HTML = `
<div class="vlp">
  <div class="vlp-msg" role="status"></div>
  <div class="vlp-bar"><span class="vlp-title">class:</span></div>
  <div class="vlp-replay" hidden>
    <button type="button" class="vlp-play" aria-label="play the replay">▶ Play</button>
    <input type="range" class="vlp-frame" min="0" max="0" value="0" aria-label="snapshot">
    <span class="vlp-frame-label" aria-live="polite"></span>
  </div>
  <div class="vlp-row">
    <div class="vlp-planewrap">
      <canvas class="vlp-plane" tabindex="0" role="application"></canvas>
      <canvas class="vlp-overlay"></canvas>
      <div class="vlp-box"></div>
    </div>
    <div class="vlp-side">
      <div class="vlp-caption vlp-preview-caption">Decoded under the pointer</div>
      <canvas class="vlp-preview" width="28" height="28" aria-label="the decoder's drawing of the point under the pointer"></canvas>
      <div class="vlp-coords" aria-live="polite"></div>
      <div class="vlp-dot empty"><canvas class="vlp-dotimg" width="28" height="28"></canvas><div class="vlp-dotinfo"></div></div>
      <div class="vlp-help"></div>
    </div>
  </div>
  <div class="vlp-maplegend" hidden></div>
  <div class="vlp-manifold-wrap hidden">
    <canvas class="vlp-manifold" aria-label="the learned manifold: click a tile to pin its point"></canvas>
    <div class="vlp-manifold-caption"></div>
  </div>
</div>`;

class LatentPlane {
  constructor(root) {
    const holder = document.createElement("div");
    holder.innerHTML = HTML;
    this.el = holder.firstElementChild;
    root.appendChild(this.el);
    const $ = (selector) => this.el.querySelector(selector);
    this.msg = $(".vlp-msg"); this.bar = $(".vlp-bar"); this.wrap = $(".vlp-planewrap");
    this.plane = $(".vlp-plane"); this.overlay = $(".vlp-overlay"); this.box = $(".vlp-box");
    this.preview = $(".vlp-preview"); this.previewCaption = $(".vlp-preview-caption"); this.coords = $(".vlp-coords");
    this.dot = $(".vlp-dot"); this.dotImage = $(".vlp-dotimg"); this.dotInfo = $(".vlp-dotinfo");
    this.help = $(".vlp-help"); this.manifoldWrap = $(".vlp-manifold-wrap"); this.manifold = $(".vlp-manifold");
    this.manifoldCaption = $(".vlp-manifold-caption"); this.mapLegend = $(".vlp-maplegend");
    this.hidden = new Set(); this.pointers = new Map(); this.decoder = null; this.images = null;
    this.pin = null; this.pinSerial = null; this.size = 0; this.data = null;
    this.manifoldJob = 0;
    this.buildLegend();
    this.listen();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.wrap);
    this.resizeObserver.observe(this.manifoldWrap);
  }

  destroy() { this.stopPlaying(); this.resizeObserver.disconnect(); this.el.remove(); }

  // ---- data from Python ---------------------------------------------------------------------
  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const previous = this.data;
    this.data = data;
    const viewKey = `${data.model}|${data.view_key}`;
    if (!previous || previous.points_key !== data.points_key) {
      const raw = bytesFromBase64(data.points);
      this.points = new Float32Array(raw.buffer, 0, raw.length / 4);
      this.labels = bytesFromBase64(data.labels);
      this.buildIndex();
    }
    this.nameClasses(data.class_names, data.item);
    if (!previous || `${previous.model}|${previous.view_key}` !== viewKey) {
      this.viewKey = viewKey;
      this.view = CACHE.views.get(viewKey) || this.homeView();
    }
    this.plane.setAttribute("aria-label", `Latent plane of ${data.axes[0]} against ${data.axes[1]}: ` +
      "move the pointer to decode, click or tap to pin a point, arrow keys move the pin, + and − zoom, 0 resets the view.");
    this.help.textContent = data.interactive
      ? "Scroll or pinch to zoom, drag to pan, shift-drag to zoom to a box; click or tap pins a point. " +
        "With the plane focused, arrow keys move the pin."
      : "";
    if (data.pin_serial !== this.pinSerial) {                 // Python moved the pin (URL, reset, new view)
      this.pinSerial = data.pin_serial;
      this.pin = data.pin ? [data.pin[0], data.pin[1]] : null;
    }
    this.loadDecoder(data);
    this.loadImages(data);
    this.setupFrames(data);
    this.setupMap(data.decoder_map);
    // A rerun that changed nothing the plane shows (a pin from this page, say) draws nothing again.
    const look = JSON.stringify([data.points_key, data.model, data.view_key, data.basis, data.extent, data.mark, data.pin_serial,
                                 data.manifold, !!this.decoder, data.pin_image, data.overlays,
                                 data.decoder_map && data.decoder_map.key]);
    if (look !== this.look) { this.look = look; this.resize(true); }
  }

  // ---- training replay: the same plane at several moments of training -----------------------
  setupFrames(data) {
    const frames = data.frames, box = this.el.querySelector(".vlp-replay");
    box.hidden = !frames;
    this.el.classList.toggle("vlp-replaying", !!frames);
    if (!frames) { this.frames = null; return; }
    if (this.frames && this.frames.key === frames.key) return;
    this.frames = { key: frames.key, labels: frames.labels, raw: frames.points, cache: new Map() };
    const range = box.querySelector(".vlp-frame"), play = box.querySelector(".vlp-play");
    range.max = String(frames.labels.length - 1);
    range.value = String(frames.labels.length - 1);
    if (!this.replayWired) {
      this.replayWired = true;
      range.addEventListener("input", () => { this.stopPlaying(); this.showFrame(Number(range.value)); });
      play.addEventListener("click", () => (this.playing ? this.stopPlaying() : this.startPlaying()));
    }
    this.showFrame(frames.labels.length - 1);
  }

  showFrame(index) {
    const f = this.frames;
    if (!f.cache.has(index)) f.cache.set(index, vaeHalfToFloat(bytesFromBase64(f.raw[index])));
    this.points = f.cache.get(index);
    this.frameIndex = index;
    this.buildIndex();
    const box = this.el.querySelector(".vlp-replay");
    box.querySelector(".vlp-frame").value = String(index);
    box.querySelector(".vlp-frame-label").textContent = f.labels[index];
    this.plane.dataset.frame = String(index);
    this.drawPlane();
    this.drawOverlay();
  }

  startPlaying() {
    const f = this.frames, play = this.el.querySelector(".vlp-play");
    if (this.frameIndex >= f.labels.length - 1) this.showFrame(0);
    this.playing = setInterval(() => {
      if (this.frameIndex >= f.labels.length - 1) { this.stopPlaying(); return; }
      this.showFrame(this.frameIndex + 1);
    }, 450);
    play.textContent = "❚❚ Pause";
  }

  stopPlaying() {
    clearInterval(this.playing);
    this.playing = null;
    this.el.querySelector(".vlp-play").textContent = "▶ Play";
  }

  // ---- the decoder's map: what the classifier reads in the decoding of each point, under the dots ----
  setupMap(map) {
    this.mapLegend.hidden = !map;
    if (!map) { this.map = null; delete this.plane.dataset.map; return; }
    if (!this.map || this.map.key !== map.key) {
      const n = map.n, classes = bytesFromBase64(map.classes), confidence = bytesFromBase64(map.confidence);
      const chance = 1 / map.names.length, canvas = document.createElement("canvas");
      canvas.width = canvas.height = n;
      const context = canvas.getContext("2d"), image = context.createImageData(n, n);
      for (let i = 0; i < n * n; i++) {
        image.data.set(mapColour(classes[i], confidence[i] / 255, chance), 4 * i);
        image.data[4 * i + 3] = 255;
      }
      context.putImageData(image, 0, 0);                      // row 0 is the top of the map's extent
      this.map = { key: map.key, extent: map.extent, canvas };
      this.plane.dataset.map = map.extent.map((v) => v.toFixed(4)).join(",");
      if (JSON.stringify(map.names) !== this.mapNames) { this.mapNames = JSON.stringify(map.names); this.buildMapLegend(map.names); }
      const [x0, x1, y0, y1] = map.extent, axes = this.data.axes, f = (t) => Number(t.toPrecision(4));
      this.mapLegend.querySelector(".vlp-maplegend-share").textContent = `${(100 * map.share).toFixed(1)} % of the ` +
        `map's square (${axes[0]} ${f(x0)} to ${f(x1)}, ${axes[1]} ${f(y0)} to ${f(y1)}) decodes to an image that ` +
        "the classifier reads with at least 90 % confidence.";
    }
    this.reportView();
  }

  reportView() {
    // While the map is on, Python learns the visible square a moment after the zooming and panning
    // stop, and sends the map of it (each report is a rerun, so none while the map is off).
    if (!this.map || !this.data.interactive) return;
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => {
      const v = this.view, r = (t) => (Math.round(t * 1e4) / 1e4).toString();
      this.report("view", [r(v.cx - v.half), r(v.cx + v.half), r(v.cy - v.half), r(v.cy + v.half)].join(","));
    }, 250);
  }

  buildMapLegend(names) {
    const chance = 1 / names.length, rgb = (c) => `rgb(${c.join(",")})`;
    this.mapLegend.replaceChildren();
    const title = document.createElement("span");
    title.className = "vlp-maplegend-title";
    title.textContent = "Decoder's map: the background is what the classifier reads in the decoding of each point.";
    const share = document.createElement("span");
    share.className = "vlp-maplegend-share";
    share.setAttribute("aria-live", "polite");
    this.mapLegend.append(title, share);
    names.forEach((name, label) => {
      const item = document.createElement("span"), ramp = document.createElement("span");
      item.className = "vlp-maplegend-item"; ramp.className = "ramp";
      const stops = [chance, 0.5, 0.9, 1].map((p) => rgb(mapColour(label, p, chance)));
      ramp.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
      item.append(ramp, document.createTextNode(name));
      this.mapLegend.appendChild(item);
    });
    const note = document.createElement("span");
    note.className = "vlp-maplegend-note";
    note.textContent = `Each colour runs from white (the classifier is unsure: confidence ${chance.toFixed(2)}, chance) ` +
      "to deep (sure: confidence 1). Colours are the dots' colours.";
    this.mapLegend.appendChild(note);
  }

  loadDecoder(data) {
    const dec = data.decoder;
    if (dec.off) { this.decoder = null; this.showMessage(""); return; }
    if (dec.error) { this.failDecoder(dec.error); return; }
    const cached = CACHE.blobs.get(dec.key);
    if (cached) { this.decoder = cached; this.showMessage(""); this.report("have_decoder", dec.key); return; }
    if (!dec.weights) {                                        // not sent (yet): ask for it
      this.decoder = null;
      this.ask("decoder", dec.served);
      return;
    }
    try {
      const weights = vaeHalfToFloat(bytesFromBase64(dec.weights));
      this.decoder = new VaeDecoder(dec.layers, weights, data.latent_dim);
      remember(dec.key, this.decoder);
      this.showMessage("");
      this.report("have_decoder", dec.key);
    } catch (error) {
      this.failDecoder(`the weights did not load in this browser (${error.message || error})`);
    }
  }

  failDecoder(reason) {
    this.decoder = null;
    this.showMessage(`Decoding in the browser is off: ${reason}. Click or tap the plane to decode a point on the server.`);
    this.report("decoder_failed", reason);
  }

  loadImages(data) {
    if (this.images || !data.images_key) return;
    const cached = CACHE.blobs.get(data.images_key);
    if (cached) { this.images = cached; this.report("have_images", data.images_key); return; }
    if (this.imagesLoading === data.images_key) return;           // still unpacking what came earlier
    if (!data.images) { this.ask("images", data.images_served); return; }
    this.imagesLoading = data.images_key;
    Promise.resolve(data.images).then((text) => gunzip(bytesFromBase64(text))).then((pixels) => {
      remember(data.images_key, pixels);
      this.images = pixels;
      this.report("have_images", data.images_key);
    }).catch(() => { this.imagesLoading = null; });     // no dot images: the dots still show label and index
  }

  report(name, value) {
    // State values go to Python; sending one that Python already has would cost a rerun for nothing.
    this.reported = this.reported || {};
    if (this.reported[name] === value) return;
    this.reported[name] = value;
    if (this.setStateValue) this.setStateValue(name, value);
  }

  ask(name, served) {
    // Ask Python for a blob: request 1 first; a new request only once Python says it answered the
    // last one (served) and the blob is still missing here.
    this.requests = this.requests || {};
    const last = this.requests[name] || 0;
    if (last === 0 || served >= last) {
      this.requests[name] = Math.max(last, served || 0) + 1;
      this.report(`need_${name}`, this.requests[name]);
    }
  }

  showMessage(text) { this.msg.textContent = text; this.msg.classList.toggle("shown", !!text); }

  // ---- geometry -----------------------------------------------------------------------------
  homeView() {
    const [x0, x1, y0, y1] = this.data.extent;
    return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, half: Math.max(x1 - x0, y1 - y0) / 2 };
  }
  toPixel(x, y) {
    const v = this.view, s = this.size / (2 * v.half);
    return [(x - v.cx + v.half) * s, (v.cy + v.half - y) * s];
  }
  toLatent(px, py) {
    const v = this.view, s = (2 * v.half) / this.size;
    return [v.cx - v.half + px * s, v.cy + v.half - py * s];
  }
  local(event) {
    const r = this.wrap.getBoundingClientRect();
    return [event.clientX - r.left, event.clientY - r.top];
  }
  setView(view) {
    this.view = view;
    CACHE.views.set(this.viewKey, view);
    this.drawPlane();
    this.drawOverlay();
    this.scheduleManifold();
    this.reportView();
    this.plane.dataset.view = [view.cx - view.half, view.cx + view.half, view.cy - view.half, view.cy + view.half]
      .map((v) => v.toFixed(4)).join(",");
  }
  zoomAt(px, py, factor) {
    const [x, y] = this.toLatent(px, py), v = this.view;
    const half = Math.min(Math.max(v.half * factor, 1e-3), 1e3);
    const k = half / v.half;
    this.setView({ cx: x - (x - v.cx) * k, cy: y - (y - v.cy) * k, half });
  }

  resize(force) {
    const size = Math.round(this.wrap.clientWidth);
    const dpr = window.devicePixelRatio || 1;
    if (size > 0 && (force || size !== this.size)) {
      this.size = size;
      for (const canvas of [this.plane, this.overlay]) {
        canvas.width = Math.round(size * dpr); canvas.height = Math.round(size * dpr);
      }
      this.setView(this.view);
    }
    if (this.data) this.layoutManifold();
  }

  // ---- drawing ------------------------------------------------------------------------------
  buildIndex() {
    // Dots grouped by digit (one fill colour per pass) and a uniform grid over the data for hover look-ups.
    const n = this.labels.length;
    this.byDigit = Array.from({ length: 10 }, () => []);
    for (let i = 0; i < n; i++) this.byDigit[this.labels[i]].push(i);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = this.points[2 * i], y = this.points[2 * i + 1];
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const cells = 128;
    this.grid = { x0, y0, cw: (x1 - x0) / cells || 1, ch: (y1 - y0) / cells || 1, cells, buckets: new Map() };
    for (let i = 0; i < n; i++) {
      const key = this.cellOf(this.points[2 * i], this.points[2 * i + 1]).join(",");
      if (!this.grid.buckets.has(key)) this.grid.buckets.set(key, []);
      this.grid.buckets.get(key).push(i);
    }
  }
  cellOf(x, y) {
    const g = this.grid;
    return [Math.floor((x - g.x0) / g.cw), Math.floor((y - g.y0) / g.ch)];
  }
  nearestDot(x, y, radius) {
    const g = this.grid, [cx, cy] = this.cellOf(x, y);
    const rx = Math.ceil(radius / g.cw), ry = Math.ceil(radius / g.ch);
    if (rx * ry > 4096) return -1;                           // zoomed far out: too many cells to look at
    let best = -1, bestD = radius * radius;
    for (let i = cx - rx; i <= cx + rx; i++) {
      for (let j = cy - ry; j <= cy + ry; j++) {
        const bucket = g.buckets.get(`${i},${j}`);
        if (!bucket) continue;
        for (const k of bucket) {
          if (this.hidden.has(this.labels[k])) continue;
          const dx = this.points[2 * k] - x, dy = this.points[2 * k + 1] - y, d = dx * dx + dy * dy;
          if (d < bestD) { bestD = d; best = k; }
        }
      }
    }
    return best;
  }

  drawPlane() {
    if (!this.size || !this.points) return;
    const dpr = this.plane.width / this.size, ctx = this.plane.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#f7f7f7"; ctx.fillRect(0, 0, this.size, this.size);
    if (this.map) {                                          // the decoder's map, one crisp cell per lattice point
      const [x0, x1, y0, y1] = this.map.extent, [left, top] = this.toPixel(x0, y1), [right, bottom] = this.toPixel(x1, y0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(this.map.canvas, left, top, right - left, bottom - top);
    }
    // grid lines and tick labels
    const v = this.view, step = niceStep(2 * v.half, this.size < 400 ? 4 : 6);
    ctx.strokeStyle = "#e2e2e2"; ctx.lineWidth = 1; ctx.fillStyle = "#777";
    ctx.font = "11px sans-serif";
    const ticks = [];
    for (let t = Math.ceil((v.cx - v.half) / step) * step; t <= v.cx + v.half; t += step) ticks.push(["x", t]);
    for (let t = Math.ceil((v.cy - v.half) / step) * step; t <= v.cy + v.half; t += step) ticks.push(["y", t]);
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    for (const [axis, t] of ticks) {
      const [px, py] = this.toPixel(t, t);
      ctx.beginPath();
      if (axis === "x") { ctx.moveTo(px, 0); ctx.lineTo(px, this.size); } else { ctx.moveTo(0, py); ctx.lineTo(this.size, py); }
      ctx.stroke();
    }
    // the dots
    const r = this.size < 400 ? 1.1 : 1.4;
    ctx.globalAlpha = this.map ? 0.85 : 0.6;                 // over the map's colours the dots need more ink
    for (let d = 0; d < 10; d++) {
      if (this.hidden.has(d)) continue;
      ctx.fillStyle = COLOURS[d];
      for (const i of this.byDigit[d]) {
        const [px, py] = this.toPixel(this.points[2 * i], this.points[2 * i + 1]);
        if (px < -2 || py < -2 || px > this.size + 2 || py > this.size + 2) continue;
        ctx.fillRect(px - r, py - r, 2 * r, 2 * r);
      }
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#555";
    for (const [axis, t] of ticks) {
      const [px, py] = this.toPixel(t, t), label = t.toFixed(decimals);
      if (axis === "x" && px > 24 && px < this.size - 60) ctx.fillText(label, px + 2, this.size - 4);
      if (axis === "y" && py > 24 && py < this.size - 24) ctx.fillText(label, 3, py - 3);
    }
    ctx.font = "bold 12px sans-serif";
    ctx.fillText(this.data.axes[0] + " →", this.size - 40, this.size - 18);
    ctx.fillText("↑ " + this.data.axes[1], 6, 14);
  }

  drawOverlay() {
    if (!this.size) return;
    const dpr = this.overlay.width / this.size, ctx = this.overlay.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.size, this.size);
    const cross = (x, y, colour, size) => {
      const [px, py] = this.toPixel(x, y);
      ctx.lineCap = "round";
      for (const [width, stroke] of [[5, "#fff"], [2.5, colour]]) {
        ctx.lineWidth = width; ctx.strokeStyle = stroke; ctx.beginPath();
        ctx.moveTo(px - size, py - size); ctx.lineTo(px + size, py + size);
        ctx.moveTo(px + size, py - size); ctx.lineTo(px - size, py + size); ctx.stroke();
      }
    };
    const extra = this.data.overlays || {};
    if (extra.ellipse) {                                     // a posterior q(z|x): mean ± 2σ on the two axes
      const e = extra.ellipse, [cx, cy] = this.toPixel(e.x, e.y), s = this.size / (2 * this.view.half);
      ctx.beginPath(); ctx.ellipse(cx, cy, Math.max(1, e.rx * s), Math.max(1, e.ry * s), 0, 0, 2 * Math.PI);
      ctx.fillStyle = "rgba(214, 39, 40, 0.12)"; ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = "#d62728"; ctx.setLineDash([5, 3]); ctx.stroke(); ctx.setLineDash([]);
    }
    if (extra.path && extra.path.length > 1) {               // an interpolation: its points joined, A and B named
      ctx.lineWidth = 2.5; ctx.strokeStyle = "#111"; ctx.beginPath();
      extra.path.forEach(([x, y], i) => { const [px, py] = this.toPixel(x, y); i ? ctx.lineTo(px, py) : ctx.moveTo(px, py); });
      ctx.stroke();
      ctx.fillStyle = "#111";
      for (const [x, y] of extra.path) { const [px, py] = this.toPixel(x, y); ctx.beginPath(); ctx.arc(px, py, 2.5, 0, 2 * Math.PI); ctx.fill(); }
      ctx.font = "bold 13px sans-serif";
      for (const [label, [x, y]] of [["A", extra.path[0]], ["B", extra.path[extra.path.length - 1]]]) {
        const [px, py] = this.toPixel(x, y);
        ctx.lineWidth = 3; ctx.strokeStyle = "#fff"; ctx.strokeText(label, px + 6, py - 6); ctx.fillText(label, px + 6, py - 6);
      }
    }
    for (const [x, y] of extra.points || []) {              // samples from the prior: hollow diamonds
      const [px, py] = this.toPixel(x, y);
      ctx.beginPath(); ctx.moveTo(px, py - 6); ctx.lineTo(px + 6, py); ctx.lineTo(px, py + 6); ctx.lineTo(px - 6, py); ctx.closePath();
      ctx.lineWidth = 3.5; ctx.strokeStyle = "#fff"; ctx.stroke(); ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.stroke();
    }
    if (this.data.mark) cross(this.data.mark[0], this.data.mark[1], "#d62728", 8);
    if (this.pin) {
      const [px, py] = this.toPixel(this.pin[0], this.pin[1]);
      ctx.lineWidth = 4; ctx.strokeStyle = "#fff"; ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
      ctx.lineWidth = 2.5; ctx.strokeStyle = "#000"; ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
      ctx.fillStyle = "#000"; ctx.beginPath(); ctx.arc(px, py, 2.5, 0, 2 * Math.PI); ctx.fill();
    }
    if (this.hoverDot >= 0 && this.hoverDot !== undefined) {
      const [px, py] = this.toPixel(this.points[2 * this.hoverDot], this.points[2 * this.hoverDot + 1]);
      ctx.lineWidth = 2; ctx.strokeStyle = COLOURS[this.labels[this.hoverDot]];
      ctx.beginPath(); ctx.arc(px, py, 5, 0, 2 * Math.PI); ctx.stroke();
    }
  }

  buildLegend() {
    this.legend = [];
    for (let d = 0; d < 10; d++) {
      const button = document.createElement("button"), swatch = document.createElement("span");
      button.type = "button";
      button.setAttribute("aria-pressed", "true");
      swatch.className = "sw"; swatch.style.background = COLOURS[d];
      button.append(swatch, document.createTextNode(String(d)));
      this.legend.push(button);
      button.addEventListener("click", () => {
        if (this.hidden.has(d)) this.hidden.delete(d); else this.hidden.add(d);
        button.setAttribute("aria-pressed", String(!this.hidden.has(d)));
        this.drawPlane();
      });
      this.bar.appendChild(button);
    }
    const reset = document.createElement("button");
    reset.type = "button"; reset.className = "vlp-reset"; reset.textContent = "Reset view";
    reset.addEventListener("click", () => this.setView(this.homeView()));
    this.bar.appendChild(reset);
    this.nameClasses([...Array(10).keys()].map(String), "digit");
  }

  nameClasses(names, item) {
    // The model's dataset names its classes ("0"…"9", or "T-shirt/top"…"Ankle boot") and its examples.
    if (!names || JSON.stringify([names, item]) === this.classWords) return;
    this.classWords = JSON.stringify([names, item]);
    this.classNames = names; this.item = item;
    this.bar.querySelector(".vlp-title").textContent = item === "digit" ? "digit:" : "class:";
    this.legend.forEach((button, d) => {
      button.lastChild.textContent = names[d];
      button.title = `show or hide the test ${item}s labelled ${names[d]}`;
    });
  }

  // ---- decoding under the pointer -------------------------------------------------------------
  latentVector(x, y) {
    // The plane's point (x, y) in latent space: origin + x·u + y·v (vae.inference.PlaneBasis).
    const { origin, u, v } = this.data.basis, z = new Float32Array(origin.length);
    for (let i = 0; i < origin.length; i++) z[i] = origin[i] + x * u[i] + y * v[i];
    return z;
  }

  showPoint(x, y, label, started) {
    this.coords.textContent = `${label}: ${this.data.axes[0]} = ${x.toFixed(3)}, ${this.data.axes[1]} = ${y.toFixed(3)}`;
    if (this.decoder) {
      drawDigit(this.preview, this.decoder.decode(this.latentVector(x, y), 1));
      this.preview.dataset.z = `${x},${y}`;
      if (started !== undefined) {
        TIMINGS.push(performance.now() - started);
        if (TIMINGS.length > 5000) TIMINGS.splice(0, TIMINGS.length - 5000);
      }
    } else if (this.data.pin_image && this.pin) {
      drawDigit(this.preview, bytesFromBase64(this.data.pin_image));
      this.preview.dataset.z = `${this.pin[0]},${this.pin[1]}`;
    }
  }

  showDot(index) {
    this.hoverDot = index;
    if (index < 0) { this.dot.classList.add("empty"); this.dotInfo.textContent = ""; return; }
    this.dot.classList.remove("empty");
    const name = document.createElement("b"), number = document.createElement("b");
    number.textContent = `#${index}`; name.textContent = this.classNames[this.labels[index]];
    this.dotInfo.replaceChildren(`test ${this.item} `, number, document.createElement("br"), "labelled ", name);
    if (this.images) drawDigit(this.dotImage, this.images, index * 784);
    else this.dot.classList.add("empty");
    this.dot.dataset.index = String(index);
  }

  showPinned() {
    this.previewCaption.textContent = this.decoder ? "Pinned point (move over the plane to decode)" : "Pinned point (decoded on the server)";
    if (this.pin) this.showPoint(this.pin[0], this.pin[1], "pinned");
    else this.coords.textContent = "";
  }

  hoverAt(px, py, started) {
    const [x, y] = this.toLatent(px, py);
    this.previewCaption.textContent = this.decoder ? "Decoded under the pointer" : "Pinned point (decoded on the server)";
    if (this.decoder) this.showPoint(x, y, "pointer", started);
    this.showDot(this.nearestDot(x, y, DOT_RADIUS * (2 * this.view.half) / this.size));
    this.drawOverlay();
  }

  pinAt(x, y) {
    this.pin = [x, y];
    this.drawOverlay();
    this.showPoint(x, y, "pinned");
    this.report("pin", { x: Math.round(x * 1e4) / 1e4, y: Math.round(y * 1e4) / 1e4 });
  }

  // ---- input ----------------------------------------------------------------------------------
  listen() {
    const wrap = this.wrap;
    wrap.addEventListener("pointerdown", (e) => {
      wrap.setPointerCapture(e.pointerId);
      const [px, py] = this.local(e);
      this.pointers.set(e.pointerId, { px, py, startX: px, startY: py, moved: false });
      this.boxing = e.shiftKey && e.pointerType === "mouse" ? { x: px, y: py } : null;
      if (this.pointers.size === 2) this.pinch = this.pinchState();
      this.plane.focus({ preventScroll: true });
    });
    wrap.addEventListener("pointermove", (e) => {
      const started = performance.now(), queued = started - e.timeStamp;
      QUEUED.push(queued);
      if (QUEUED.length > 5000) QUEUED.splice(0, QUEUED.length - 5000);
      const [px, py] = this.local(e);
      const pointer = this.pointers.get(e.pointerId);
      if (!pointer) { if (e.pointerType !== "touch") this.hoverAt(px, py, started); return; }
      const dx = px - pointer.px, dy = py - pointer.py;
      pointer.px = px; pointer.py = py;
      if (Math.hypot(px - pointer.startX, py - pointer.startY) > TAP_SLOP) pointer.moved = true;
      if (this.pointers.size >= 2 && this.pinch) {
        const now = this.pinchState(), was = this.pinch;
        this.pinch = now;
        this.zoomAt(now.mx, now.my, was.distance / Math.max(now.distance, 1));
        const s = (2 * this.view.half) / this.size;
        this.setView({ ...this.view, cx: this.view.cx - (now.mx - was.mx) * s, cy: this.view.cy + (now.my - was.my) * s });
      } else if (this.boxing) {
        if (pointer.moved) this.showBox(this.boxing.x, this.boxing.y, px, py);
      } else if (pointer.moved) {
        const s = (2 * this.view.half) / this.size;
        this.setView({ ...this.view, cx: this.view.cx - dx * s, cy: this.view.cy + dy * s });
      }
      if (e.pointerType !== "touch") this.hoverAt(px, py, started);
    });
    const release = (e, cancelled) => {
      const pointer = this.pointers.get(e.pointerId);
      if (!pointer) return;
      this.pointers.delete(e.pointerId);
      if (this.pointers.size < 2) this.pinch = null;
      const [px, py] = this.local(e);
      if (this.boxing) {
        this.box.style.display = "none";
        const box = this.boxing; this.boxing = null;
        if (pointer.moved && !cancelled) { this.zoomToBox(box.x, box.y, px, py); return; }
      }
      if (!pointer.moved && !cancelled && !this.wasPinching) {
        const [x, y] = this.toLatent(px, py);
        this.pinAt(x, y);
        if (e.pointerType === "touch") this.showDot(this.nearestDot(x, y, 2 * DOT_RADIUS * (2 * this.view.half) / this.size));
      }
      this.wasPinching = this.pointers.size > 0;
    };
    wrap.addEventListener("pointerup", (e) => release(e, false));
    wrap.addEventListener("pointercancel", (e) => release(e, true));
    wrap.addEventListener("pointerleave", (e) => {
      if (e.pointerType === "mouse" && !this.pointers.size) { this.showDot(-1); this.showPinned(); this.drawOverlay(); }
    });
    wrap.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [px, py] = this.local(e);
      this.zoomAt(px, py, Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.deltaMode ? 0.05 : 0.0015)))));
      this.hoverAt(px, py, performance.now());
    }, { passive: false });
    this.plane.addEventListener("keydown", (e) => this.key(e));
    this.manifold.addEventListener("click", (e) => {
      const grid = this.manifoldGrid;
      if (!grid) return;
      const r = this.manifold.getBoundingClientRect();
      const i = Math.floor(((e.clientX - r.left) / r.width) * grid.n), j = Math.floor(((e.clientY - r.top) / r.height) * grid.n);
      if (i < 0 || j < 0 || i >= grid.n || j >= grid.n) return;
      this.pinAt(grid.xs[i], grid.ys[j]);
    });
  }

  pinchState() {
    const [a, b] = [...this.pointers.values()];
    return { mx: (a.px + b.px) / 2, my: (a.py + b.py) / 2, distance: Math.hypot(a.px - b.px, a.py - b.py) };
  }
  showBox(x0, y0, x1, y1) {
    Object.assign(this.box.style, { display: "block", left: `${Math.min(x0, x1)}px`, top: `${Math.min(y0, y1)}px`,
                                     width: `${Math.abs(x1 - x0)}px`, height: `${Math.abs(y1 - y0)}px` });
  }
  zoomToBox(x0, y0, x1, y1) {
    const [a, b] = [this.toLatent(Math.min(x0, x1), Math.max(y0, y1)), this.toLatent(Math.max(x0, x1), Math.min(y0, y1))];
    const half = Math.max(b[0] - a[0], b[1] - a[1]) / 2;
    if (half > 1e-3) this.setView({ cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2, half });
  }

  key(e) {
    const v = this.view, step = (2 * v.half) * (e.shiftKey ? 0.1 : 0.02);
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[e.key]) {
      e.preventDefault();
      const [x, y] = this.pin || [v.cx, v.cy];
      this.pin = [x + moves[e.key][0], y + moves[e.key][1]];
      this.drawOverlay();
      this.showPoint(this.pin[0], this.pin[1], "pinned");
      clearTimeout(this.keyTimer);                       // one rerun after the keys settle, not one per press
      this.keyTimer = setTimeout(() => this.pinAt(this.pin[0], this.pin[1]), 250);
    } else if (e.key === "+" || e.key === "=" || e.key === "-") {
      e.preventDefault();
      this.zoomAt(this.size / 2, this.size / 2, e.key === "-" ? 1.25 : 0.8);
    } else if (e.key === "0") {
      e.preventDefault();
      this.setView(this.homeView());
    }
  }

  // ---- the manifold -----------------------------------------------------------------------------
  layoutManifold() {
    const m = this.data.manifold;
    const on = !!(m && this.decoder);
    this.manifoldWrap.classList.toggle("hidden", !on);
    if (!on) { this.manifoldGrid = null; return; }
    const width = Math.min(640, Math.round(this.manifoldWrap.clientWidth));
    if (width > 0 && width !== this.manifoldWidth) { this.manifoldWidth = width; this.scheduleManifold(); }
    const key = `${m.n}|${m.spacing}|${this.data.model}`;
    if (key !== this.manifoldKey) { this.manifoldKey = key; this.scheduleManifold(); }
  }

  scheduleManifold() {
    if (!this.data || !this.data.manifold || !this.decoder) return;
    const v = this.view, m = this.data.manifold;
    const inputs = JSON.stringify([v.cx, v.cy, v.half, m.n, m.spacing, this.data.model, this.data.view_key,
                                   this.data.basis, this.manifoldWidth]);
    if (inputs === this.manifoldInputs) return;               // already drawn (or being drawn) for these
    this.manifoldInputs = inputs;
    clearTimeout(this.manifoldTimer);
    this.manifoldTimer = setTimeout(() => this.renderManifold(), 120);
  }

  renderManifold() {
    const { n, spacing } = this.data.manifold, v = this.view;
    const centres = (lo, hi) => {
      if (spacing === "gaussian") {
        const clamp = (p) => Math.min(1 - 1e-12, Math.max(1e-12, p));
        const u0 = normalCdf(lo), u1 = normalCdf(hi);
        return Array.from({ length: n }, (_, i) => normalQuantile(clamp(u0 + ((i + 0.5) / n) * (u1 - u0))));
      }
      return Array.from({ length: n }, (_, i) => lo + ((i + 0.5) / n) * (hi - lo));
    };
    const xs = centres(v.cx - v.half, v.cx + v.half), ys = centres(v.cy - v.half, v.cy + v.half).reverse();
    const job = ++this.manifoldJob, decoder = this.decoder;
    const tiles = document.createElement("canvas");
    tiles.width = tiles.height = 28 * n;
    const tctx = tiles.getContext("2d"), image = tctx.createImageData(28 * n, 28 * n);
    const canvas = this.manifold, side = Math.round(this.manifoldWidth * (window.devicePixelRatio || 1));
    canvas.width = canvas.height = side;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    let row = 0;
    const step = () => {
      if (job !== this.manifoldJob) return;                    // the view moved on: drop this drawing
      const started = performance.now();
      while (row < n && performance.now() - started < 12) {
        const z = new Float32Array(n * this.data.latent_dim);
        for (let i = 0; i < n; i++) z.set(this.latentVector(xs[i], ys[row]), i * this.data.latent_dim);
        const pixels = decoder.decode(z, n);
        for (let i = 0; i < n; i++) {
          for (let p = 0; p < 784; p++) {
            const value = Math.round(Math.min(1, Math.max(0, pixels[i * 784 + p])) * 255);
            const o = 4 * ((row * 28 + Math.floor(p / 28)) * 28 * n + i * 28 + (p % 28));
            image.data[o] = image.data[o + 1] = image.data[o + 2] = value; image.data[o + 3] = 255;
          }
        }
        row++;
      }
      tctx.putImageData(image, 0, 0);
      ctx.drawImage(tiles, 0, 0, side, side);
      if (row < n) requestAnimationFrame(step);
      else { this.manifoldGrid = { n, xs, ys }; canvas.dataset.done = String(job); }
    };
    this.manifoldGrid = { n, xs, ys };
    requestAnimationFrame(step);
    const axes = this.data.axes, f = (t) => t.toFixed(2);
    this.manifoldCaption.textContent = `${n}×${n} decodings of the visible square, ${axes[0]} from ${f(xs[0])} to ` +
      `${f(xs[n - 1])} (left to right), ${axes[1]} from ${f(ys[0])} to ${f(ys[n - 1])} (top to bottom), ` +
      (spacing === "gaussian"
        ? "spaced evenly in probability under the prior N(0, 1) (the Gaussian's inverse CDF, as in Kingma & Welling 2014, figure 4)."
        : "spaced evenly.") + " Click a tile to pin its point.";
  }
}

const PLANES = new WeakMap();

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let plane = PLANES.get(parentElement);
  if (!plane) { plane = new LatentPlane(parentElement); PLANES.set(parentElement, plane); }
  plane.update(data, setStateValue);
  plane.showPinned();
  return () => { plane.destroy(); PLANES.delete(parentElement); };
}

// The latent plane: the encoded test set on a canvas that zooms and pans, the decoder run in the
// browser under the pointer, pins, the manifold of decodings, the decoder's map and a training replay.
// It knows no host: what it is shown comes in `update(data)`, and what the user does goes out
// through `report(name, value)` (app_pages/plane/host.js sends it to Python; standalone.js keeps it
// in the address's #). The data's fields are described in app_pages/plane/__init__.py.

import { bytesOf, float32Of, gunzip } from "./bytes.js";
import { VaeDecoder, decoderWeights, vaeHalfToFloat } from "./decoder.js";
import { classColour, drawDigit, drawOverlay, drawPlane, groupByClass, mapColour, themeColours } from "./draw.js";
import { ZOOM_KEY, attachGestures } from "./gestures.js";
import { renderManifold } from "./manifold.js";
import { LatentSliders } from "./sliders.js";
import { View } from "./view.js";
import { ENGLISH, say, sayParts } from "./words.js";

const DOT_RADIUS = 8;            // CSS px within which the pointer is "on" a dot
const SIDE_MIN = 260;            // CSS px the side column (preview, dot, manifold) needs beside the plane

// What survives reruns and page switches in this browser tab: decoders and test images by key once they
// are all here (the browser's HTTP cache keeps their files across tabs and reloads), the loads under way
// (so that the Latent and Reconstruct pages' planes share one), and each plane's view (zoom) by model
// and dimensions.
const CACHE = (window.__vaeLatentCache = window.__vaeLatentCache || { blobs: new Map(), views: new Map() });
CACHE.pending = CACHE.pending || new Map();      // decoders: key -> promise
CACHE.arriving = CACHE.arriving || new Map();    // test images: key -> TestImages, until every file is in

function remember(key, value) {
  CACHE.blobs.set(key, value);
  while (CACHE.blobs.size > 6) CACHE.blobs.delete(CACHE.blobs.keys().next().value);   // oldest first
}

// One load per key and tab, shared by every plane that asks while it runs.
function loadOnce(key, load) {
  if (!CACHE.pending.has(key)) CACHE.pending.set(key, load().finally(() => CACHE.pending.delete(key)));
  return CACHE.pending.get(key);
}

// A file of the server's (app_pages/plane: blob_url) as bytes; the browser's HTTP cache answers when it can.
async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the server answered ${response.status} for ${url}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The test images, 784 grey levels each, as they arrive: from the dashboard's files of `perFile`
// images (gzip-compressed), fetched one at a time once start() is called, the file of a dot that is
// wanted first; or all at once from the exported file's sprite. onArrive(listener) hears of each file.
class TestImages {
  constructor(count, perFile) {
    this.pixels = new Uint8Array(count * 784); this.perFile = perFile;
    this.arrived = new Array(Math.ceil(count / perFile)).fill(false);
    this.queue = []; this.listeners = new Set();
  }
  static fromFiles(urls, perFile, count) {
    const images = new TestImages(count, perFile);
    images.urls = urls; images.queue = urls.map((_, k) => k);
    return images;
  }
  static fromPromise(pixels, count) {
    const images = new TestImages(count, count);
    pixels.then((p) => { images.pixels = p; images.arrive(0); }).catch(() => {});  // no pictures: dots keep label and index
    return images;
  }
  has(index) { return this.arrived[Math.floor(index / this.perFile)]; }
  missing() { return this.arrived.filter((a) => !a).length; }
  onArrive(listener) { this.listeners.add(listener); return () => this.listeners.delete(listener); }
  arrive(file) { this.arrived[file] = true; for (const listener of this.listeners) listener(file); }
  want(index) {                                    // the file holding test item `index`, next
    const file = Math.floor(index / this.perFile), at = this.queue.indexOf(file);
    if (at > 0) { this.queue.splice(at, 1); this.queue.unshift(file); }
    this.start();
  }
  async start() {
    if (this.running) return;
    this.running = true;
    while (this.queue.length) {
      const file = this.queue.shift();
      try {
        this.pixels.set(await gunzip(await fetchBytes(this.urls[file])), file * this.perFile * 784);
        this.arrive(file);
      } catch { /* a file that does not come: its dots show label and index without a picture */ }
    }
  }
}

// The exported file's test images: a sprite image of `columns` tiles to a row, each image in the
// top-left corner of a `pitch`-pixel square, as one Uint8Array of 784 grey levels each.
async function spriteImages(data) {
  const { columns, count, mime, pitch } = data.images_sprite;
  const bitmap = await createImageBitmap(new Blob([bytesOf(data.images)], { type: mime }));
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width; canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, out = new Uint8Array(count * 784);
  for (let k = 0; k < count; k++) {
    const left = (k % columns) * pitch, top = Math.floor(k / columns) * pitch;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) out[k * 784 + y * 28 + x] = rgba[4 * ((top + y) * bitmap.width + left + x)];
    }
  }
  return out;
}

const HTML = `
<div class="vlp">
  <div class="vlp-msg" role="status"></div>
  <div class="vlp-replay" hidden>
    <button type="button" class="vlp-play" aria-label="play the replay">▶ Play</button>
    <input type="range" class="vlp-frame" min="0" max="0" value="0" aria-label="snapshot">
    <span class="vlp-frame-label" aria-live="polite"></span>
  </div>
  <div class="vlp-row">
    <div class="vlp-bar"><span class="vlp-title">class:</span><span class="vlp-legend"></span>
      <span class="vlp-tools">
        <button type="button" class="vlp-zoom" data-zoom="0.8" aria-label="zoom in">+</button>
        <button type="button" class="vlp-zoom" data-zoom="1.25" aria-label="zoom out">−</button>
        <button type="button" class="vlp-reset">Reset view</button>
        <button type="button" class="vlp-full" aria-pressed="false" title="show the plane on the whole screen">Fullscreen</button>
      </span></div>
    <div class="vlp-planewrap">
      <canvas class="vlp-plane" tabindex="0" role="application"></canvas>
      <canvas class="vlp-overlay"></canvas>
      <div class="vlp-box"></div>
      <div class="vlp-hint" aria-live="polite"></div>
    </div>
    <div class="vlp-side">
      <div class="vlp-look">
        <div class="vlp-caption vlp-preview-caption">Decoded under the pointer</div>
        <canvas class="vlp-preview" width="28" height="28" aria-label="the decoder's drawing of the point under the pointer"></canvas>
        <div class="vlp-coords" aria-live="polite"></div>
        <div class="vlp-dot empty"><canvas class="vlp-dotimg" width="28" height="28"></canvas><div class="vlp-dotinfo"></div></div>
        <div class="vlp-help"></div>
      </div>
      <div class="vlp-manifold-wrap hidden">
        <canvas class="vlp-manifold" aria-label="the learned manifold: click a tile to pin its point"></canvas>
        <div class="vlp-manifold-caption"></div>
      </div>
      <div class="vlp-maplegend" hidden></div>
    </div>
  </div>
  <div class="vlp-dims" hidden></div>
</div>`;

export class LatentPlane {
  // options: report(name, value) for what the user does; onView(view) after each zoom or pan.
  constructor(root, options = {}) {
    const holder = document.createElement("div");
    holder.innerHTML = HTML;
    this.el = holder.firstElementChild;
    root.appendChild(this.el);
    const $ = (selector) => this.el.querySelector(selector);
    this.msg = $(".vlp-msg"); this.bar = $(".vlp-bar"); this.legendBox = $(".vlp-legend"); this.wrap = $(".vlp-planewrap");
    this.plane = $(".vlp-plane"); this.overlay = $(".vlp-overlay"); this.boxEl = $(".vlp-box");
    this.preview = $(".vlp-preview"); this.previewCaption = $(".vlp-preview-caption"); this.coords = $(".vlp-coords");
    this.dot = $(".vlp-dot"); this.dotImage = $(".vlp-dotimg"); this.dotInfo = $(".vlp-dotinfo");
    this.help = $(".vlp-help"); this.manifoldWrap = $(".vlp-manifold-wrap"); this.manifold = $(".vlp-manifold");
    this.manifoldCaption = $(".vlp-manifold-caption"); this.mapLegend = $(".vlp-maplegend");
    this.replayBox = $(".vlp-replay"); this.fullButton = $(".vlp-full"); this.hintBox = $(".vlp-hint");
    this.dimsBox = $(".vlp-dims");
    this.options = options;
    this.words = ENGLISH;
    this.hidden = new Set(); this.decoder = null; this.images = null; this.hoverDot = -1;
    this.pin = null; this.pinSerial = null; this.size = 0; this.data = null; this.timers = {};
    this.reported = {};
    this.aborter = new AbortController();
    const signal = this.aborter.signal;
    attachGestures(this.wrap, this.plane, this, signal);
    this.sliders = new LatentSliders(this.dimsBox, { onInput: (i, value) => this.slide(i, value), signal });
    $(".vlp-reset").addEventListener("click", () => this.setView(View.home(this.data.extent)), { signal });
    for (const button of this.el.querySelectorAll(".vlp-zoom")) {
      button.addEventListener("click", () => this.zoomAt(this.size / 2, this.size / 2, Number(button.dataset.zoom)), { signal });
    }
    this.coarse = matchMedia("(pointer: coarse)");           // a touch screen: its own words for the gestures
    this.coarse.addEventListener("change", () => this.describeGestures(), { signal });
    this.fullButton.hidden = !document.fullscreenEnabled;
    this.fullButton.addEventListener("click", () => this.toggleFullscreen(), { signal });
    document.addEventListener("fullscreenchange", () => this.fullscreenChanged(), { signal });
    this.manifold.addEventListener("click", (e) => this.manifoldClick(e), { signal });
    const range = $(".vlp-frame"), play = $(".vlp-play");
    range.addEventListener("input", () => { this.stopPlaying(); this.showFrame(Number(range.value)); }, { signal });
    play.addEventListener("click", () => (this.playing ? this.stopPlaying() : this.startPlaying()), { signal });
    this.resizeObserver = new ResizeObserver(() => { this.layout(); this.resize(); });
    this.resizeObserver.observe(this.el);
    this.resizeObserver.observe(this.wrap);
    this.resizeObserver.observe(this.manifoldWrap);
    window.addEventListener("resize", () => { this.layout(); this.resize(); }, { signal });
  }

  // Everything this plane started ends here: listeners, timers, animation frames, the manifold job.
  destroy() {
    this.destroyed = true;
    this.aborter.abort();
    if (this.stopListening) this.stopListening();
    this.stopPlaying();
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    cancelAnimationFrame(this.frame);
    if (this.manifoldJob) this.manifoldJob.cancel();
    this.sliders.destroy();
    this.resizeObserver.disconnect();
    this.el.remove();
  }

  later(name, ms, action) {                                 // one pending timer per name
    clearTimeout(this.timers[name]);
    this.timers[name] = setTimeout(() => { delete this.timers[name]; action(); }, ms);
  }

  // ---- data from the host -------------------------------------------------------------------
  update(data, report) {
    if (report) this.options.report = report;
    const previous = this.data;
    this.data = data;
    if (data.theme !== this.el.dataset.theme) {
      if (data.theme) this.el.dataset.theme = data.theme; else delete this.el.dataset.theme;
      this.colours = null;
    }
    const viewKey = `${data.model}|${data.view_key}`;
    if (!previous || previous.points_key !== data.points_key) this.loadPoints(data);
    this.applyWords(data.strings);
    this.nameClasses(data.class_names || [...Array(10).keys()].map(String), data.item || "digit");
    if (!previous || `${previous.model}|${previous.view_key}` !== viewKey) {
      this.viewKey = viewKey;
      this.view = data.view ? View.parse(data.view) || View.home(data.extent)
                            : CACHE.views.get(viewKey) || View.home(data.extent);
    }
    this.describeGestures();
    const basisKey = JSON.stringify(data.basis);
    if (basisKey !== this.basisKey) {                         // the plane's origin: the host's, until a slider moves it
      this.basisKey = basisKey;
      this.origin = Float32Array.from(data.basis.origin);
      this.manifoldInputs = null;
    }
    if (data.pin_serial !== this.pinSerial) {                 // the host moved the pin (URL, reset, new view)
      this.pinSerial = data.pin_serial;
      this.pin = data.pin ? [data.pin[0], data.pin[1]] : null;
    }
    this.setupSliders(data);
    this.loadDecoder(data);
    this.loadImages(data);
    this.setupFrames(data);
    this.setupMap(data.decoder_map);
    this.layout();
    // A rerun that changed nothing the plane shows (a pin from this page, say) draws nothing again.
    const look = JSON.stringify([data.points_key, data.model, data.view_key, data.basis, data.extent, data.mark, data.pin_serial,
                                 data.manifold, !!this.decoder, data.pin_image, data.overlays, data.theme,
                                 data.decoder_map && data.decoder_map.key, this.wordsKey]);
    if (look !== this.look) { this.look = look; this.resize(true); }
    this.showPinned();
  }

  report(name, value) {
    // State values go to the host; sending one that it already has would cost Python a rerun for nothing.
    if (this.reported[name] === value) return;
    this.reported[name] = value;
    if (this.options.report) this.options.report(name, value);
  }

  // The plane's own words: data.strings (the host's translation, vae/web/words.js's keys) over English.
  // The words that do not follow the plane's state are set here; the rest are said where they change.
  applyWords(strings) {
    const words = { ...ENGLISH, ...(strings || {}) }, key = JSON.stringify(words);
    if (key === this.wordsKey) return;
    this.wordsKey = key; this.words = words;
    const $ = (selector) => this.el.querySelector(selector);
    $(".vlp-play").setAttribute("aria-label", words.play_label);
    $(".vlp-frame").setAttribute("aria-label", words.snapshot_label);
    this.el.querySelectorAll(".vlp-zoom")[0].setAttribute("aria-label", words.zoom_in);
    this.el.querySelectorAll(".vlp-zoom")[1].setAttribute("aria-label", words.zoom_out);
    $(".vlp-reset").textContent = words.reset_view;
    this.fullButton.title = words.fullscreen_title;
    this.preview.setAttribute("aria-label", words.preview_label);
    this.manifold.setAttribute("aria-label", words.manifold_label);
    this.fullButton.textContent = this.immersive() ? words.exit_fullscreen : words.fullscreen;
    $(".vlp-play").textContent = this.playing ? words.pause : words.play;
    this.classWords = null; this.mapNames = null; this.mapKey = null; this.manifoldInputs = null;
  }

  // The line over the plane: what the decoder (or full screen) last said, and whether the dots came.
  showMessage(text) { this.message = text; this.sayMessages(); }
  sayMessages() {
    const text = [this.pointsMessage, this.message].filter(Boolean).join(" ");
    this.msg.textContent = text; this.msg.classList.toggle("shown", !!text);
  }

  // The help under the preview and the plane's label, in the words of the device in hand.
  describeGestures() {
    if (!this.data) return;
    const touch = this.coarse.matches, axes = this.data.axes;
    const words = this.words;
    this.plane.setAttribute("aria-label", say(words, "plane_label", {
      x_axis: axes[0], y_axis: axes[1], how: touch ? words.plane_label_touch : words.plane_label_mouse }));
    this.help.textContent = !this.data.interactive ? ""
      : touch ? words.help_touch : say(words, "help_mouse", { key: ZOOM_KEY });
  }

  // A short line over the plane when a gesture went to the page instead ("wheel", "touch").
  hint(kind) {
    if (!this.data || !this.data.interactive) return;
    this.hintBox.textContent = kind === "wheel" ? say(this.words, "hint_wheel", { key: ZOOM_KEY }) : this.words.hint_touch;
    this.hintBox.classList.add("shown");
    this.later("hint", 1400, () => this.hintBox.classList.remove("shown"));
  }

  // Whether the plane is the fullscreen element. In the dashboard it lives in a shadow root, where
  // document.fullscreenElement names the shadow's host: the root's own fullscreenElement names it.
  immersive() {
    const root = this.el.getRootNode();
    return (root.fullscreenElement !== undefined ? root.fullscreenElement : document.fullscreenElement) === this.el;
  }

  // ---- the dots, the decoder and the test images ---------------------------------------------
  // The dots: their file (the dashboard, app_pages/plane: points_payload) or their bytes in the data
  // (the exported file, or a server that could not write the file): N float32 (x, y) pairs, N labels.
  loadPoints(data) {
    const key = data.points_key;
    const show = (dots) => {
      if (this.pointsMessage) { this.pointsMessage = ""; this.sayMessages(); }
      this.labels = dots.labels;
      if (!this.frames) this.points = dots.points;             // a replay shows its frame's points
      this.buildIndex();
    };
    if (!data.points_url) {
      show({ points: float32Of(bytesOf(data.points)), labels: bytesOf(data.labels) });
      return;
    }
    const cached = CACHE.blobs.get(key);
    if (cached) { show(cached); return; }
    this.points = this.labels = this.grid = null;              // the last model's dots are not this one's
    loadOnce(key, async () => {
      const raw = await gunzip(await fetchBytes(data.points_url)), n = data.points_count;
      if (raw.length !== 9 * n) throw new Error(`${raw.length} bytes for ${n} dots`);
      const dots = { points: float32Of(raw, 8 * n), labels: raw.slice(8 * n) };
      remember(key, dots);
      return dots;
    }).then((dots) => {
      if (this.destroyed || this.data.points_key !== key) return;
      show(dots);
      this.look = null; this.resize(true);
    }).catch((error) => {
      if (!this.destroyed && this.data.points_key === key) {
        this.pointsMessage = say(this.words, "points_failed", { error: error.message || error });
        this.sayMessages();
      }
    });
  }

  // The decoder first: its file (the dashboard) or its bytes in the data (the exported file); the test
  // images' files once it is ready, or has failed, so that the plane decodes as soon as it can.
  loadDecoder(data) {
    const dec = data.decoder;
    if (dec.off) { this.decoder = null; this.showMessage(""); this.decoderSettled(); return; }
    if (dec.error) { this.failDecoder(dec.error); return; }
    const cached = CACHE.blobs.get(dec.key);
    if (cached) { this.decoder = cached; this.showMessage(""); this.decoderSettled(); return; }
    this.decoder = null;
    if (this.decoderLoading === dec.key) return;                 // under way, or failed: said once
    this.decoderLoading = dec.key;
    loadOnce(dec.key, async () => {
      const weights = await decoderWeights(dec.encoding, dec.url ? await fetchBytes(dec.url) : dec.weights);
      const decoder = new VaeDecoder(dec.layers, weights, data.latent_dim);
      remember(dec.key, decoder);
      return decoder;
    }).then((decoder) => {
      if (this.destroyed || this.data.decoder.key !== dec.key) return;
      this.decoder = decoder;
      this.showMessage("");
      this.decoderSettled();
      this.look = null; this.resize(true); this.showPinned(); this.showSliders();
    }).catch((error) => {
      if (!this.destroyed && this.data.decoder.key === dec.key) {
        this.failDecoder(say(this.words, "weights_failed", { error: error.message || error }));
      }
    });
  }

  failDecoder(reason) {
    this.decoder = null;
    this.showMessage(say(this.words, "decoder_off", { reason }));
    this.report("decoder_failed", reason);
    this.decoderSettled();
  }

  decoderSettled() {
    this.imagesMayStart = true;
    if (this.images) this.images.start();
  }

  loadImages(data) {
    if (!data.images_key || this.imagesKey === data.images_key) return;
    this.imagesKey = data.images_key;
    const key = data.images_key;
    let images = CACHE.blobs.get(key) || CACHE.arriving.get(key);
    if (!images) {
      images = data.images_files ? TestImages.fromFiles(data.images_files, data.images_per_file, data.images_count)
                                 : TestImages.fromPromise(spriteImages(data), data.images_sprite.count);
      CACHE.arriving.set(key, images);
      images.onArrive(() => { if (!images.missing()) { CACHE.arriving.delete(key); remember(key, images); } });
    }
    if (this.stopListening) this.stopListening();
    this.images = images;
    this.stopListening = images.onArrive((file) => {      // the dot under the pointer may be in it
      if (this.hoverDot >= 0 && Math.floor(this.hoverDot / images.perFile) === file) this.showDot(this.hoverDot);
    });
    if (this.imagesMayStart) images.start();
  }

  // ---- training replay: the same plane at several moments of training -----------------------
  setupFrames(data) {
    const frames = data.frames;
    this.replayBox.hidden = !frames;
    this.el.classList.toggle("vlp-replaying", !!frames);
    if (!frames) { this.frames = null; return; }
    if (this.frames && this.frames.key === frames.key) return;
    this.frames = { key: frames.key, labels: frames.labels, raw: frames.points, cache: new Map() };
    const range = this.replayBox.querySelector(".vlp-frame");
    range.max = String(frames.labels.length - 1);
    this.showFrame(frames.labels.length - 1);
  }

  showFrame(index) {
    const f = this.frames;
    if (!f.cache.has(index)) f.cache.set(index, vaeHalfToFloat(bytesOf(f.raw[index])));
    this.points = f.cache.get(index);
    this.frameIndex = index;
    this.buildIndex();
    this.replayBox.querySelector(".vlp-frame").value = String(index);
    this.replayBox.querySelector(".vlp-frame-label").textContent = f.labels[index];
    this.plane.dataset.frame = String(index);
    this.draw();
  }

  startPlaying() {
    const f = this.frames;
    if (this.frameIndex >= f.labels.length - 1) this.showFrame(0);
    this.playing = setInterval(() => {
      if (this.frameIndex >= f.labels.length - 1) { this.stopPlaying(); return; }
      this.showFrame(this.frameIndex + 1);
    }, 450);
    this.replayBox.querySelector(".vlp-play").textContent = this.words.pause;
  }

  stopPlaying() {
    clearInterval(this.playing);
    this.playing = null;
    this.replayBox.querySelector(".vlp-play").textContent = this.words.play;
  }

  // ---- the decoder's map: what the classifier reads in the decoding of each point, under the dots ----
  setupMap(map) {
    this.mapLegend.hidden = !map;
    if (!map) { this.map = null; delete this.plane.dataset.map; return; }
    if (!this.map || this.map.key !== map.key || this.mapKey !== map.key) {
      this.mapKey = map.key;
      const n = map.n, classes = bytesOf(map.classes), confidence = bytesOf(map.confidence);
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
      this.mapLegend.querySelector(".vlp-maplegend-share").textContent = say(this.words, "map_share", {
        share: `${(100 * map.share).toFixed(1)} %`, sure: "90 %", x_axis: axes[0], x0: f(x0), x1: f(x1), y_axis: axes[1], y0: f(y0), y1: f(y1) });
    }
    this.reportView();
  }

  reportView() {
    // Python learns the visible square a moment after the zooming and panning stop, where it asked
    // (report_view: the view goes into the page's link) or the map is on (it sends the map of it).
    if (!(this.map || this.data.report_view) || !this.data.interactive) return;
    this.later("view", 250, () => {
      const r = (t) => (Math.round(t * 1e4) / 1e4).toString();
      this.report("view", this.view.square().map(r).join(","));
    });
  }

  buildMapLegend(names) {
    const chance = 1 / names.length, rgb = (c) => `rgb(${c.join(",")})`;
    this.mapLegend.replaceChildren();
    const title = document.createElement("span");
    title.className = "vlp-maplegend-title";
    title.textContent = this.words.map_title;
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
    note.textContent = say(this.words, "map_note", { chance: chance.toFixed(2) });
    this.mapLegend.appendChild(note);
  }

  // ---- the legend: one toggle per class, from the data's class names ------------------------
  nameClasses(names, item) {
    if (JSON.stringify([names, item]) === this.classWords) return;
    this.classWords = JSON.stringify([names, item]);
    this.classNames = names; this.item = item;
    const words = this.words, items = item === "digit" ? words.items_digit : item === "item" ? words.items_item : `${item}s`;
    this.bar.querySelector(".vlp-title").textContent = item === "digit" ? words.legend_digit : words.legend_class;
    if (!this.legend || this.legend.length !== names.length) {
      this.legend = names.map((_, label) => {
        const button = document.createElement("button"), swatch = document.createElement("span");
        button.type = "button";
        button.setAttribute("aria-pressed", String(!this.hidden.has(label)));
        swatch.className = "sw"; swatch.style.background = classColour(label);
        button.append(swatch, document.createTextNode(""));
        button.addEventListener("click", () => {
          if (this.hidden.has(label)) this.hidden.delete(label); else this.hidden.add(label);
          button.setAttribute("aria-pressed", String(!this.hidden.has(label)));
          this.draw(true, false);
        }, { signal: this.aborter.signal });
        return button;
      });
      this.legendBox.replaceChildren(...this.legend);
      this.buildIndex();
    }
    this.legend.forEach((button, label) => {
      button.lastChild.textContent = names[label];
      button.title = say(words, "legend_toggle", { items, name: names[label] });
    });
  }

  // ---- decoding under the pointer -------------------------------------------------------------
  latentVector(x, y) {
    // The plane's point (x, y) in latent space: origin + x·u + y·v (vae.inference.PlaneBasis), the
    // origin as the sliders left it.
    const { u, v } = this.data.basis, origin = this.origin, z = new Float32Array(origin.length);
    for (let i = 0; i < origin.length; i++) z[i] = origin[i] + x * u[i] + y * v[i];
    return z;
  }

  showPoint(x, y, label, started) {
    this.coords.textContent = say(this.words, "point_coords", {
      where: label === "pinned" ? this.words.at_pinned : this.words.at_pointer,
      x_axis: this.data.axes[0], x: x.toFixed(3), y_axis: this.data.axes[1], y: y.toFixed(3) });
    if (this.decoder) {
      drawDigit(this.preview, this.decoder.decode(this.latentVector(x, y), 1));
      this.preview.dataset.z = `${x},${y}`;
      const timings = window.__vaeHoverTimings;            // a benchmark's hook (bench/browser_plane.py), if it set one
      if (timings && started !== undefined) timings.push(performance.now() - started);
    } else if (this.data.pin_image && this.pin) {
      drawDigit(this.preview, bytesOf(this.data.pin_image));
      this.preview.dataset.z = `${this.pin[0]},${this.pin[1]}`;
    }
  }

  showDot(index) {
    if (index !== this.hoverDot) { this.hoverDot = index; this.draw(false, true); }
    if (index < 0) { this.dot.classList.add("empty"); this.dotInfo.textContent = ""; return; }
    this.dot.classList.remove("empty");
    const name = document.createElement("b"), number = document.createElement("b");
    number.textContent = `#${index}`; name.textContent = this.classNames[this.labels[index]];
    const words = this.words, item = this.item === "digit" ? words.item_digit : this.item === "item" ? words.item_item : this.item;
    this.dotInfo.replaceChildren(...sayParts(words, "dot_test", { item, number }), document.createElement("br"),
                                 ...sayParts(words, "dot_labelled", { name }));
    if (this.images && this.images.has(index)) drawDigit(this.dotImage, this.images.pixels, index * 784);
    else {
      this.dot.classList.add("empty");
      if (this.images) this.images.want(index);
    }
    this.dot.dataset.index = String(index);
  }

  // ---- one slider per latent dimension (sliders.js), for a model with more than two -----------------
  setupSliders(data) {
    const on = !!(data.sliders && data.interactive && data.latent_dim > 2);
    this.dimsBox.hidden = !on;
    if (!on) return;
    this.sliders.setup({ dim: data.latent_dim, kl: data.sliders.kl, words: this.words, axes: data.axes,
                         pca: !data.axes.every((name) => /^z\d+$/.test(name)) });
    this.showSliders();
  }

  showSliders() {
    if (this.dimsBox.hidden || !this.data) return;
    const [x, y] = this.pin || [0, 0];
    this.sliders.show(this.latentVector(x, y), this.decoder);
  }

  // Slider i moved to `value`: the point z changes in dimension i. Its part in the plane's directions
  // is the pin, the rest the plane's origin (what every point of the plane is decoded around).
  slide(i, value) {
    const [x0, y0] = this.pin || [0, 0], z = this.latentVector(x0, y0);
    z[i] = value;
    const { u, v } = this.data.basis, o = this.origin;
    let x = 0, y = 0;
    for (let k = 0; k < z.length; k++) { x += (z[k] - o[k]) * u[k]; y += (z[k] - o[k]) * v[k]; }
    for (let k = 0; k < z.length; k++) o[k] = z[k] - x * u[k] - y * v[k];
    this.pin = [x, y];
    this.draw(false, true);
    this.showPinned();
    this.sliders.show(z, this.decoder);
    this.manifoldInputs = null; this.scheduleManifold();
    this.later("slide", 250, () => {                          // one report after the slider settles
      this.report("held", { view: this.data.view_key, z: Array.from(this.origin) });
      this.report("pin", { x: Math.round(this.pin[0] * 1e4) / 1e4, y: Math.round(this.pin[1] * 1e4) / 1e4 });
    });
  }

  showPinned() {
    this.previewCaption.textContent = !this.decoder ? this.words.pinned_on_server
      : this.coarse.matches ? this.words.pinned_tap : this.words.pinned_move;
    if (this.pin) this.showPoint(this.pin[0], this.pin[1], "pinned");
    else this.coords.textContent = "";
  }

  pinAt(x, y) {
    this.pin = [x, y];
    this.draw(false, true);
    this.showPoint(x, y, "pinned");
    this.showSliders();
    this.report("pin", { x: Math.round(x * 1e4) / 1e4, y: Math.round(y * 1e4) / 1e4 });
  }

  // ---- the verbs of gestures.js -----------------------------------------------------------------
  hover(px, py, started) {
    const [x, y] = this.view.toLatent(px, py, this.size);
    this.previewCaption.textContent = this.decoder ? this.words.decoded_here : this.words.pinned_on_server;
    if (this.decoder) this.showPoint(x, y, "pointer", started);
    this.showDot(this.nearestDot(x, y, DOT_RADIUS * this.view.unitsPerPixel(this.size)));
  }
  leave() { this.showDot(-1); this.showPinned(); }
  tap(px, py, pointerType) {
    const [x, y] = this.view.toLatent(px, py, this.size);
    this.pinAt(x, y);
    if (pointerType === "touch") this.showDot(this.nearestDot(x, y, 2 * DOT_RADIUS * this.view.unitsPerPixel(this.size)));
  }
  pan(dx, dy) { this.setView(this.view.panned(dx, dy, this.size)); }
  zoomAt(px, py, factor) { this.setView(this.view.zoomedAt(px, py, factor, this.size)); }
  box(x0, y0, x1, y1, done) {
    if (!done) {
      Object.assign(this.boxEl.style, { display: "block", left: `${Math.min(x0, x1)}px`, top: `${Math.min(y0, y1)}px`,
                                      width: `${Math.abs(x1 - x0)}px`, height: `${Math.abs(y1 - y0)}px` });
      return;
    }
    this.boxEl.style.display = "none";
    const view = this.view.boxed(x0, y0, x1, y1, this.size);
    if (view) this.setView(view);
  }
  key(e) {
    const v = this.view, step = (2 * v.half) * (e.shiftKey ? 0.1 : 0.02);
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[e.key]) {
      e.preventDefault();
      const [x, y] = this.pin || [v.cx, v.cy];
      this.pin = [x + moves[e.key][0], y + moves[e.key][1]];
      this.draw(false, true);
      this.showPoint(this.pin[0], this.pin[1], "pinned");
      this.showSliders();
      this.later("key", 250, () => this.pinAt(this.pin[0], this.pin[1]));   // one report after the keys settle
    } else if (e.key === "+" || e.key === "=" || e.key === "-") {
      e.preventDefault();
      this.zoomAt(this.size / 2, this.size / 2, e.key === "-" ? 1.25 : 0.8);
    } else if (e.key === "0") {
      e.preventDefault();
      this.setView(View.home(this.data.extent));
    }
  }

  // ---- the view ---------------------------------------------------------------------------------
  setView(view) {
    this.view = view;
    CACHE.views.set(this.viewKey, view);
    this.draw();
    this.scheduleManifold();
    this.reportView();
    this.plane.dataset.view = view.square().map((v) => v.toFixed(4)).join(",");
    if (this.options.onView) this.options.onView(view);
  }

  // The plane as large as the window's height allows, beside its side column (preview, nearest dot,
  // manifold) when the component is wide enough, else over it; the legend and the view's buttons head
  // the side column or, when narrow, the plane (plane.css: .vlp-wide). In fullscreen, plane.css alone.
  layout() {
    const width = this.el.clientWidth, height = window.innerHeight;
    if (!width || !height || this.immersive()) return;
    const top = this.el.getBoundingClientRect().top + window.scrollY;       // from the page's top
    const fit = Math.max(Math.min(320, height - 24), height - Math.min(Math.max(top, 0), height / 4) - 12);
    const wide = width >= 700;
    const side = Math.floor(wide ? Math.min(fit, width - SIDE_MIN - 12) : Math.min(fit, width));
    if (side === this.planeSide && wide === this.wide) return;
    this.planeSide = side; this.wide = wide;
    this.el.style.setProperty("--vlp-plane", `${side}px`);
    this.el.classList.toggle("vlp-wide", wide);
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

  toggleFullscreen() {
    if (this.immersive()) document.exitFullscreen();
    else this.el.requestFullscreen().catch((error) => this.showMessage(say(this.words, "fullscreen_refused", { error: error.message || error })));
  }
  fullscreenChanged() {
    const full = this.immersive();
    this.el.classList.toggle("vlp-fullscreen", full);
    this.fullButton.setAttribute("aria-pressed", String(full));
    this.fullButton.textContent = full ? this.words.exit_fullscreen : this.words.fullscreen;
    this.planeSide = null;
    this.layout();
  }

  // ---- drawing: at most once per animation frame ------------------------------------------------
  draw(plane = true, overlay = true) {
    this.dirtyPlane = this.dirtyPlane || plane;
    this.dirtyOverlay = this.dirtyOverlay || overlay;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.destroyed || !this.size || !this.points || !this.labels) return;
      this.colours = this.colours || themeColours(this.el);
      const common = { size: this.size, view: this.view, colours: this.colours };
      const context = (canvas) => {
        const ctx = canvas.getContext("2d"), dpr = canvas.width / this.size;
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        return ctx;
      };
      if (this.dirtyPlane) {
        drawPlane({ ...common, ctx: context(this.plane), points: this.points, groups: this.groups, hidden: this.hidden,
                    map: this.map, axes: this.data.axes });
      }
      if (this.dirtyOverlay) {
        const i = this.hoverDot;
        drawOverlay({ ...common, ctx: context(this.overlay), overlays: this.data.overlays, mark: this.data.mark, pin: this.pin,
                      hover: i >= 0 ? { x: this.points[2 * i], y: this.points[2 * i + 1], colour: classColour(this.labels[i]) } : null });
      }
      this.dirtyPlane = this.dirtyOverlay = false;
    });
  }

  buildIndex() {
    // Dots grouped by class (one fill colour per pass) and a uniform grid over the data for hover look-ups.
    if (!this.points || !this.labels) return;
    const n = this.labels.length;
    this.groups = groupByClass(this.labels, Math.max(this.legend ? this.legend.length : 0, ...this.labels) + 1);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = this.points[2 * i], y = this.points[2 * i + 1];
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const cells = 128;
    this.grid = { x0, y0, cw: (x1 - x0) / cells || 1, ch: (y1 - y0) / cells || 1, buckets: new Map() };
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
    if (!this.grid || !this.points || !this.labels) return -1;  // the dots are still on their way
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
    if (!this.data || !this.data.manifold || !this.decoder || !this.manifoldWidth) return;
    const v = this.view, m = this.data.manifold;
    const inputs = JSON.stringify([v.cx, v.cy, v.half, m.n, m.spacing, this.data.model, this.data.view_key,
                                   this.data.basis, Array.from(this.origin), this.manifoldWidth]);
    if (inputs === this.manifoldInputs) return;               // already drawn (or being drawn) for these
    this.manifoldInputs = inputs;
    this.later("manifold", 120, () => this.renderManifold());
  }

  renderManifold() {
    const { n, spacing } = this.data.manifold;
    if (this.manifoldJob) this.manifoldJob.cancel();           // the view moved on: drop the last drawing
    const serial = (this.manifoldSerial || 0) + 1;
    this.manifoldSerial = serial;
    this.manifoldJob = renderManifold({
      canvas: this.manifold, side: this.manifoldWidth, decoder: this.decoder, latent: (x, y) => this.latentVector(x, y),
      latentDim: this.data.latent_dim, square: this.view.square(), n, spacing,
      done: () => { this.manifold.dataset.done = String(serial); }, pause: () => this.sliders.drawing,
    });
    const { xs, ys } = this.manifoldJob.grid, axes = this.data.axes, f = (t) => t.toFixed(2);
    this.manifoldGrid = this.manifoldJob.grid;
    this.manifoldCaption.textContent = say(this.words, "manifold_caption", {
      n, x_axis: axes[0], x0: f(xs[0]), x1: f(xs[n - 1]), y_axis: axes[1], y0: f(ys[0]), y1: f(ys[n - 1]),
      spacing: spacing === "gaussian" ? this.words.manifold_gaussian : this.words.manifold_linear });
  }

  manifoldClick(e) {
    const grid = this.manifoldGrid;
    if (!grid) return;
    const r = this.manifold.getBoundingClientRect();
    const i = Math.floor(((e.clientX - r.left) / r.width) * grid.n), j = Math.floor(((e.clientY - r.top) / r.height) * grid.n);
    if (i < 0 || j < 0 || i >= grid.n || j >= grid.n) return;
    this.pinAt(grid.xs[i], grid.ys[j]);
  }
}

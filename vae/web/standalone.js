// The exported one-file explorer's host (vae/export.py writes the page around it): the data and its
// binary blocks from the page itself, the model's facts in the header, the manifold and theme
// controls, and the pinned point and view kept in the address's # so that a link opens the same view.
// Its words are data.page (vae/export.py: PAGE_WORDS, in the language the file was made in).

import { text15Bytes } from "./bytes.js";
import { LatentPlane } from "./plane.js";
import { View } from "./view.js";

const $ = (id) => document.getElementById(id);

// What this file needs of the browser; the first thing missing is named in one line.
function missingFeature() {
  const needs = [["DecompressionStream", "DecompressionStream"], ["createImageBitmap", "createImageBitmap"],
                 ["ResizeObserver", "ResizeObserver"], ["AbortController", "AbortController"]];
  for (const [name, global] of needs) if (!(global in window)) return name;
  return null;
}

// {blob: "name"} -> the bytes of the page's block "blob-name", everywhere in the data.
function resolveBlobs(value) {
  if (Array.isArray(value)) return value.map(resolveBlobs);
  if (value && typeof value === "object") {
    if (typeof value.blob === "string" && Object.keys(value).length === 1) {
      const block = $(`blob-${value.blob}`);
      return text15Bytes(block.textContent, Number(block.dataset.length));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveBlobs(v)]));
  }
  return value;
}

// "#z=x,y&view=cx,cy,half" <-> {pin: [x, y] | null, view: View | null}; bad parts are left out.
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const z = (params.get("z") || "").split(",").map(Number);
  const pin = z.length === 2 && z.every((t) => Number.isFinite(t) && Math.abs(t) < 1e4) ? z : null;
  return { pin, view: View.parse(params.get("view")) };
}
function writeHash(pin, view) {
  const params = new URLSearchParams();
  if (pin) params.set("z", pin.map((t) => Number(t.toFixed(4))).join(","));
  if (view) params.set("view", view.toString());
  history.replaceState(null, "", `#${params.toString().replace(/%2C/g, ",")}`);
}

// The page's word `key` with each {name} replaced by params[name] (words.js's say, for data.page).
function pageSays(page, key, params = {}) {
  return page[key].replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function header(facts, page) {
  $("name").textContent = facts.name;
  document.title = pageSays(page, "title", { name: facts.name });
  const elbo = facts.neg_elbo === null ? pageSays(page, "no_elbo")
    : pageSays(page, "elbo", { value: facts.neg_elbo.toFixed(2) });
  $("facts").textContent = pageSays(page, "facts", { dataset: facts.dataset, latent_dim: facts.latent_dim, elbo });
  if (facts.note) { $("note").hidden = false; $("note").textContent = facts.note; }
  $("foot").textContent += " " + pageSays(page, "exported", { version: facts.version, images: facts.images });
}

function start() {
  const written = JSON.parse($("explorer-data").textContent);
  const missing = missingFeature();
  if (missing) {
    $("unsupported").hidden = false;
    $("unsupported").textContent = pageSays(written.page, "lacks", { feature: missing });
    $("controls").hidden = true;
    return;
  }
  const data = resolveBlobs(written);
  header(data.header, data.page);
  let serial = 0, pin = null, view = null;
  const link = readHash();
  if (link.pin) { pin = link.pin; data.pin = pin; data.pin_serial = ++serial; }
  if (link.view) { view = link.view; data.view = view.toString(); }
  const plane = new LatentPlane($("plane"), {
    report: (name, value) => { if (name === "pin") { pin = [value.x, value.y]; writeHash(pin, view); } },
    onView: (next) => { view = next; clearTimeout(start.timer); start.timer = setTimeout(() => writeHash(pin, view), 200); },
  });
  const dark = matchMedia("(prefers-color-scheme: dark)");
  const show = () => {
    const choice = $("theme").value, theme = choice === "auto" ? (dark.matches ? "dark" : "light") : choice;
    document.body.classList.toggle("dark", theme === "dark");
    data.theme = theme;
    data.manifold = { n: Number($("tiles").value), spacing: $("spacing").value };
    $("tiles-out").textContent = $("tiles").value;
    plane.update({ ...data });
  };
  for (const id of ["theme", "tiles", "spacing"]) $(id).addEventListener("input", show);
  dark.addEventListener("change", show);
  addEventListener("hashchange", () => {                 // a link pasted into this tab, or edited by hand
    const next = readHash();
    if (next.pin) { pin = next.pin; data.pin = pin; data.pin_serial = ++serial; }
    show();
    if (next.view) plane.setView(next.view);
  });
  show();
  window.__vaeExplorer = plane;                          // for the curious: the plane, from the console
}

start();

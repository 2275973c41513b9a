// The plane's own words, in English. The dashboard sends them translated (data.strings: the same keys,
// each passed through the session's gettext catalog by app_pages/plane); the exported one-file explorer
// sends none and reads these. A word is {name} where a value goes in, as Python's str.format writes it.
// One entry a line, `key: "text",` with the text a JSON string: app_pages/i18n.py reads this file for
// the catalog (babel.cfg: plane_words) and app_pages/plane for the keys it translates.

export const ENGLISH = {
  play: "▶ Play",
  pause: "❚❚ Pause",
  play_label: "play the replay",
  snapshot_label: "snapshot",
  legend_digit: "digit:",
  legend_class: "class:",
  legend_toggle: "show or hide the test {items} labelled {name}",
  zoom_in: "zoom in",
  zoom_out: "zoom out",
  reset_view: "Reset view",
  fullscreen: "Fullscreen",
  exit_fullscreen: "Exit fullscreen",
  fullscreen_title: "show the plane on the whole screen",
  fullscreen_refused: "Fullscreen was refused: {error}",
  decoded_here: "Decoded under the pointer",
  preview_label: "the decoder's drawing of the point under the pointer",
  pinned_on_server: "Pinned point (decoded on the server)",
  pinned_tap: "Pinned point (tap the plane to decode another)",
  pinned_move: "Pinned point (move over the plane to decode)",
  at_pinned: "pinned",
  at_pointer: "pointer",
  point_coords: "{where}: {x_axis} = {x}, {y_axis} = {y}",
  dot_test: "test {item} {number}",
  dot_labelled: "labelled {name}",
  item_digit: "digit",
  item_item: "item",
  items_digit: "digits",
  items_item: "items",
  plane_label: "Latent plane of {x_axis} against {y_axis}: {how}",
  plane_label_touch: "tap to pin a point and decode it, two fingers pan and pinch to zoom.",
  plane_label_mouse: "move the pointer to decode, click to pin a point, arrow keys move the pin, + and − zoom, 0 resets the view.",
  help_touch: "Tap to pin a point and see its decoding. Two fingers pan and pinch to zoom; one finger scrolls the page.",
  help_mouse: "Move over the plane to decode. {key} + scroll, a trackpad pinch, the + and − buttons or keys zoom; drag to pan, shift-drag to zoom to a box; click pins a point, and with the plane focused arrow keys move it.",
  hint_wheel: "Hold {key} and scroll to zoom the plane",
  hint_touch: "Use two fingers to move the plane",
  decoder_off: "Decoding in the browser is off: {reason}. Click or tap the plane to decode a point on the server.",
  weights_failed: "the weights did not load in this browser ({error})",
  points_failed: "The dots did not load in this browser ({error}). Reload the page to try again.",
  manifold_label: "the learned manifold: click a tile to pin its point",
  manifold_caption: "{n}×{n} decodings of the visible square, {x_axis} from {x0} to {x1} (left to right), {y_axis} from {y0} to {y1} (top to bottom), {spacing} Click a tile to pin its point.",
  manifold_gaussian: "spaced evenly in probability under the prior N(0, 1) (the Gaussian's inverse CDF, as in Kingma & Welling 2014, figure 4).",
  manifold_linear: "spaced evenly.",
  map_title: "Decoder's map: the background is what the classifier reads in the decoding of each point.",
  map_share: "{share} of the map's square ({x_axis} {x0} to {x1}, {y_axis} {y0} to {y1}) decodes to an image that the classifier reads with at least {sure} confidence.",
  dims_title: "One slider per latent dimension",
  dims_help: "The sliders hold the pinned point's whole code z. Moving {x_axis} or {y_axis}, the plane's axes, moves the pin; moving another changes what the whole plane decodes around. Each row's images: that dimension from −3 to +3 around z (the prior's σ is 1), the others as they are. KL: the dimension's part of the ELBO's KL term on the test set, in nats; near 0, the decoder ignores it.",
  dims_help_pca: "The sliders hold the pinned point's whole code z. The plane is the principal components' plane: a slider moves the pin as far as its dimension lies in that plane, and changes what the whole plane decodes around by the rest. Each row's images: that dimension from −3 to +3 around z (the prior's σ is 1), the others as they are. KL: the dimension's part of the ELBO's KL term on the test set, in nats; near 0, the decoder ignores it.",
  dims_preview_label: "the decoder's drawing of z, the sliders' point",
  dims_slider_label: "latent dimension {name}",
  dims_traversal_label: "decodings of z with {name} from −3 to +3",
  dims_kl: "KL {kl}",
  dims_kl_title: "this dimension's KL divergence from the prior on the test set, in nats",
  dims_inactive: "inactive: the encoder leaves this dimension at the prior (KL near 0), so the decoder ignores it",
  dims_horizontal: "the plane's horizontal axis",
  dims_vertical: "the plane's vertical axis",
  map_note: "Each colour runs from white (the classifier is unsure: confidence {chance}, chance) to deep (sure: confidence 1). Colours are the dots' colours.",
};

// The text of `key` in `words` (English where it lacks it), with each {name} replaced by params[name].
export function say(words, key, params = {}) {
  return sayParts(words, key, params).join("");
}

// The same as a list of parts, where a value may be a DOM node (a bold number in a sentence): for
// element.replaceChildren(...parts).
export function sayParts(words, key, params = {}) {
  const text = (words && typeof words[key] === "string" && words[key]) || ENGLISH[key];
  return text.split(/(\{\w+\})/).filter((part) => part !== "").map((part) => {
    const name = /^\{(\w+)\}$/.exec(part);
    return name && name[1] in params ? params[name[1]] : part;
  });
}

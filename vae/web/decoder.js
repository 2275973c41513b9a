// The VAE decoder's forward pass in plain JavaScript: what the latent plane runs under the pointer.
// It reads the layer list and float16 weights that vae/webdecoder.py writes, computes in float32
// arrays (float64 arithmetic in between), and needs neither WebGL nor WebAssembly.

import { bytesOf, gunzip, inflate } from "./bytes.js";

// A float16's value from its 16 bits.
function halfValue(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 5.960464477539063e-8;                  // 2^-24
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * Math.pow(2, exponent - 15);
}

let HALVES = null;               // the value of each of the 65,536 float16 bit patterns, made on first use

export function vaeHalfToFloat(bytes) {
  if (!HALVES) {
    HALVES = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALVES[h] = halfValue(h);
  }
  const n = bytes.length >> 1, out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = HALVES[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  return out;
}

export function vaeErf(x) {
  // erf from Numerical Recipes' erfc (fractional error below 1.2e-7): enough for GELU in float32.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 +
    t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

const VAE_ACTIVATIONS = {
  relu: (x) => (x > 0 ? x : 0),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  gelu: (x) => 0.5 * x * (1 + vaeErf(x / Math.SQRT2)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
};

export class VaeDecoder {
  // layers: the list from vae/webdecoder.py; weights: Float32Array of every tensor in layer order.
  constructor(layers, weights, latentDim) {
    this.latentDim = latentDim;
    this.steps = [];
    let offset = 0;
    let size = latentDim;
    const take = (count) => {
      if (offset + count > weights.length) throw new Error("the weights are shorter than the layers need");
      const view = weights.subarray(offset, offset + count);
      offset += count;
      return view;
    };
    for (const layer of layers) {
      if (layer.op === "linear") {
        if (layer.in !== size) throw new Error(`a linear layer expects ${layer.in} inputs, gets ${size}`);
        // Kept input-major (the transpose of torch's out × in): an input's weights are one row, which
        // decode() adds to the sums only where the input is not 0 (after a ReLU, most are).
        const w = take(layer.in * layer.out), wt = new Float32Array(w.length);
        for (let i = 0; i < layer.in; i++) {
          for (let o = 0; o < layer.out; o++) wt[i * layer.out + o] = w[o * layer.in + i];
        }
        this.steps.push({ op: "linear", n_in: layer.in, n_out: layer.out, wt, b: take(layer.out) });
        size = layer.out;
      } else if (layer.op === "act") {
        const fn = VAE_ACTIVATIONS[layer.fn];
        if (!fn) throw new Error(`unknown activation ${layer.fn}`);
        this.steps.push({ op: "act", fn });
      } else if (layer.op === "reshape") {
        const count = layer.shape.reduce((a, b) => a * b, 1);
        if (count !== size) throw new Error("a reshape does not keep the number of values");
      } else if (layer.op === "conv_transpose") {
        const { kernel: k, stride: s, padding: p, height: h, width: w } = layer;
        if (layer.in * h * w !== size) throw new Error("a transposed convolution gets the wrong input size");
        const ho = (h - 1) * s - 2 * p + k, wo = (w - 1) * s - 2 * p + k;
        this.steps.push({ op: "conv_transpose", cin: layer.in, cout: layer.out, k, s, p, h, w, ho, wo,
                          weight: take(layer.in * layer.out * k * k), b: take(layer.out) });
        size = layer.out * ho * wo;
      } else {
        throw new Error(`unknown layer ${layer.op}`);
      }
    }
    if (offset !== weights.length) throw new Error("the weights are longer than the layers need");
    if (size !== 784) throw new Error(`the decoder yields ${size} values, not 28×28`);
    for (let i = 0; i < weights.length; i++) {
      if (!Number.isFinite(weights[i])) throw new Error("the weights hold a value that is not a finite number");
    }
  }

  // z: Float32Array (count × latentDim) -> Float32Array (count × 784) of pixel probabilities.
  decode(z, count) {
    let x = z;
    for (const step of this.steps) {
      if (step.op === "linear") {
        const { n_in, n_out, wt, b } = step;
        const y = new Float32Array(count * n_out), sums = new Float64Array(n_out);
        for (let r = 0; r < count; r++) {
          const base = r * n_in;
          sums.set(b);
          for (let i = 0; i < n_in; i++) {
            const v = x[base + i];
            if (v === 0) continue;                                   // a ReLU's zero: its row adds nothing
            const row = i * n_out;
            for (let o = 0; o < n_out; o++) sums[o] += v * wt[row + o];
          }
          y.set(sums, r * n_out);
        }
        x = y;
      } else if (step.op === "act") {
        const fn = step.fn;
        for (let i = 0; i < x.length; i++) x[i] = fn(x[i]);
      } else {
        const { cin, cout, k, s, p, h, w, ho, wo, weight, b } = step;
        const outSize = cout * ho * wo;
        const y = new Float32Array(count * outSize);
        for (let r = 0; r < count; r++) {
          const inBase = r * cin * h * w, outBase = r * outSize;
          for (let co = 0; co < cout; co++) y.fill(b[co], outBase + co * ho * wo, outBase + (co + 1) * ho * wo);
          for (let ci = 0; ci < cin; ci++) {
            for (let iy = 0; iy < h; iy++) {
              const oy0 = iy * s - p, ky0 = Math.max(0, -oy0), ky1 = Math.min(k, ho - oy0);
              for (let ix = 0; ix < w; ix++) {
                const v = x[inBase + (ci * h + iy) * w + ix];
                if (v === 0) continue;                                   // ReLU zeros: nothing to spread
                const ox0 = ix * s - p, kx0 = Math.max(0, -ox0), kx1 = Math.min(k, wo - ox0);
                for (let co = 0; co < cout; co++) {                      // the kernel's rows and columns that
                  const wBase = (ci * cout + co) * k * k, oBase = outBase + co * ho * wo + ox0;   // land inside
                  for (let ky = ky0; ky < ky1; ky++) {
                    const o = oBase + (oy0 + ky) * wo, wk = wBase + ky * k;
                    for (let kx = kx0; kx < kx1; kx++) y[o + kx] += v * weight[wk + kx];
                  }
                }
              }
            }
          }
        }
        x = y;
      }
    }
    for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
    return x;
  }
}

// The weights as they travel: {encoding, data}. "f16": float16 bytes; "f16-planes-deflate": the same
// bytes split into a plane of low bytes and a plane of high bytes, then zlib-deflated (the exported
// file: the high bytes, sign and exponent, compress well); "f16-planes-gzip": the planes gzip-compressed
// (the dashboard's file, fetched over HTTP: vae/blobs.py).
export async function decoderWeights(encoding, data) {
  const bytes = bytesOf(data);
  if (!encoding || encoding === "f16") return vaeHalfToFloat(bytes);
  const unpack = { "f16-planes-deflate": inflate, "f16-planes-gzip": gunzip }[encoding];
  if (!unpack) throw new Error(`unknown weight encoding ${encoding}`);
  const planes = await unpack(bytes), n = planes.length >> 1, interleaved = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) { interleaved[2 * i] = planes[i]; interleaved[2 * i + 1] = planes[n + i]; }
  return vaeHalfToFloat(interleaved);
}

// Binary data as it reaches the explorer: base64 text (the dashboard's messages), a Uint8Array
// already (the exported file's blocks, see text15Bytes), and the streams that unpack it.

export function bytesFromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

// base64 text or bytes -> bytes.
export function bytesOf(data) {
  return data instanceof Uint8Array ? data : bytesFromBase64(data);
}

// The first `length` bytes (all by default) as little-endian float32s, in a buffer of their own.
export function float32Of(bytes, length = bytes.length) {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + length));
}

// The exported file's blocks (vae/export.py, text15): 15 bits per character, as the code points
// U+4000 to U+BFFF of a UTF-16 file, first bit first. Base64 would cost a third more than the bytes;
// this costs a fifteenth.
export const TEXT15_BASE = 0x4000;
export function text15Bytes(text, length) {
  const out = new Uint8Array(length);
  let buffer = 0, bits = 0, o = 0;
  for (let i = 0; i < text.length && o < length; i++) {
    const value = text.charCodeAt(i) - TEXT15_BASE;
    if (value < 0 || value > 0x7fff) throw new Error("a data block holds a character outside its alphabet");
    buffer = (buffer << 15) | value; bits += 15;
    while (bits >= 8 && o < length) { bits -= 8; out[o++] = (buffer >> bits) & 0xff; }
    buffer &= (1 << bits) - 1;
  }
  if (o !== length) throw new Error("a data block is shorter than its declared length");
  return out;
}

async function unpack(bytes, format) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
export const gunzip = (bytes) => unpack(bytes, "gzip");
export const inflate = (bytes) => unpack(bytes, "deflate");      // zlib's format (Python's zlib.compress)

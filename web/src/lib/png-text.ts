/**
 * PNG text chunks in the browser: the workflow a dragged history thumbnail
 * carries, written as ComfyUI's SaveImage writes it (comfyui-protocol.md
 * §7.1: uncompressed `tEXt` chunks `workflow` and `prompt`, ASCII JSON,
 * before IDAT). Pure over byte arrays.
 */
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function isPng(bytes: Uint8Array): boolean {
  return SIGNATURE.every((b, i) => bytes[i] === b);
}

/** JSON with every non-ASCII character escaped, as Python's json.dumps writes it. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function textChunk(keyword: string, text: string): Uint8Array {
  const data = new Uint8Array(keyword.length + 1 + text.length);
  for (let i = 0; i < keyword.length; i++) data[i] = keyword.charCodeAt(i) & 0xff;
  data[keyword.length] = 0;
  for (let i = 0; i < text.length; i++) data[keyword.length + 1 + i] = text.charCodeAt(i) & 0xff;
  return chunk('tEXt', data);
}

function keywordOf(data: Uint8Array): string {
  const end = data.indexOf(0);
  return String.fromCharCode(...data.subarray(0, end < 0 ? Math.min(data.length, 79) : end));
}

/**
 * `png` with the given text chunks; existing text chunks of the same keywords
 * are dropped so the new ones are the only ones. Throws on a non-PNG.
 */
export function withPngText(png: Uint8Array, texts: Record<string, string>): Uint8Array {
  if (!isPng(png)) throw new Error('not a PNG');
  const keys = new Set(Object.keys(texts));
  const parts: Uint8Array[] = [png.subarray(0, 8)];
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  let inserted = false;
  while (at + 12 <= png.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const whole = png.subarray(at, at + 12 + len);
    if (type === 'IDAT' && !inserted) {
      for (const [k, v] of Object.entries(texts)) parts.push(textChunk(k, v));
      inserted = true;
    }
    const dropped = (type === 'tEXt' || type === 'iTXt') && keys.has(keywordOf(png.subarray(at + 8, at + 8 + len)));
    if (!dropped) parts.push(whole);
    at += 12 + len;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

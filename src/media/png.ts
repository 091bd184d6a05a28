/**
 * PNG encoding and metadata reading, as pure functions over buffers
 * (comfyui-protocol.md §7). ComfyUI stores the API prompt and each key of
 * `extra_data.extra_pnginfo` (normally `workflow`) as text chunks whose values
 * are Python `json.dumps` output; the frontend restores a workflow from them.
 */
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// zlib.crc32 only exists from Node 20.15; package.json promises any Node 20.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO-HDLC, as PNG uses) of the given bytes. */
export function crc32(...parts: Buffer[]): number {
  let c = 0xffffffff;
  for (const buf of parts) {
    for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

export interface RawImage {
  width: number;
  height: number;
  /** 3 = RGB, 4 = RGBA. */
  channels: 3 | 4;
  /** Row-major pixels, `width * height * channels` bytes. */
  pixels: Buffer;
}

export interface TextChunk {
  keyword: string;
  text: string;
  /** Force a zlib-compressed iTXt chunk. Otherwise tEXt when the text is Latin-1, else plain iTXt. */
  compressed?: boolean;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(head.subarray(4), data), 0);
  return Buffer.concat([head, data, crc]);
}

function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

function textChunk({ keyword, text, compressed }: TextChunk): Buffer {
  const key = Buffer.from(keyword, 'latin1');
  // Pillow's rule: Latin-1 text goes in tEXt, anything else in iTXt (UTF-8).
  if (!compressed && isLatin1(text)) {
    return chunk('tEXt', Buffer.concat([key, Buffer.from([0]), Buffer.from(text, 'latin1')]));
  }
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.concat([key, Buffer.from([0, compressed ? 1 : 0, 0, 0, 0])]);
  return chunk('iTXt', Buffer.concat([head, compressed ? deflateSync(body) : body]));
}

/**
 * Encodes an 8-bit RGB(A) image as PNG with the text chunks placed before
 * IDAT, where ComfyUI's SaveImage (Pillow) puts them.
 */
export function encodePng(image: RawImage, texts: readonly TextChunk[] = [], level = 4): Buffer {
  const { width, height, channels, pixels } = image;
  const stride = width * channels;
  if (pixels.length !== stride * height)
    throw new RangeError('pixel buffer does not match width×height×channels');
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) pixels.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 2;
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    ...texts.map(textChunk),
    chunk('IDAT', deflateSync(raw, { level })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface PngChunk {
  type: string;
  data: Buffer;
}

/** Splits a PNG into its chunks; null when it is not a PNG or is truncated. CRCs are not checked. */
export function readPngChunks(buf: Buffer): PngChunk[] | null {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) return null;
  const out: PngChunk[] = [];
  let off = 8;
  while (off + 12 <= buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > buf.length) return null;
    out.push({ type, data: buf.subarray(off + 8, off + 8 + len) });
    off += 12 + len;
    if (type === 'IEND') break;
  }
  return out;
}

/** Width and height from IHDR; null when not a PNG. */
export function readPngSize(buf: Buffer): { width: number; height: number } | null {
  const ihdr = readPngChunks(buf)?.find((c) => c.type === 'IHDR');
  if (!ihdr || ihdr.data.length < 8) return null;
  return { width: ihdr.data.readUInt32BE(0), height: ihdr.data.readUInt32BE(4) };
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// The frontend decodes tEXt as UTF-8 (some writers put UTF-8 there); the PNG
// spec says Latin-1. Try UTF-8 first so both kinds of file read as intended.
function decodeLoose(bytes: Buffer): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    // Not UTF-8: read as the spec's Latin-1, which decodes any bytes.
    return bytes.toString('latin1');
  }
}

/**
 * Reads every `tEXt`, `iTXt` (compressed or not) and ComfyUI `comf` chunk into
 * a keyword → text map, as the ComfyUI frontend does (`zTXt` is not read).
 * A later chunk with the same keyword wins. Returns {} for a non-PNG.
 */
export function readPngText(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { type, data } of readPngChunks(buf) ?? []) {
    if (type !== 'tEXt' && type !== 'iTXt' && type !== 'comf') continue;
    const nul = data.indexOf(0);
    if (nul <= 0) continue;
    const keyword = data.toString('latin1', 0, nul);
    if (type !== 'iTXt') {
      out[keyword] = decodeLoose(data.subarray(nul + 1));
      continue;
    }
    const flag = data[nul + 1];
    const langEnd = data.indexOf(0, nul + 3);
    const transEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
    if (transEnd < 0) continue;
    const body = data.subarray(transEnd + 1);
    try {
      out[keyword] = (flag === 1 ? inflateSync(body) : body).toString('utf8');
    } catch {
      // A corrupt compressed chunk is skipped, like the frontend does.
    }
  }
  return out;
}

function escapeJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}

/**
 * JSON text as Python's `json.dumps(value)` writes it: `", "` and `": "`
 * separators and every non-ASCII character escaped as \uXXXX (UTF-16 units),
 * so the result is plain ASCII and always fits a tEXt chunk. Numbers use JS
 * formatting: a Python float such as 1.0 has already become 1 once parsed.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return escapeJsonString(value);
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : 'NaN';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${escapeJsonString(k)}: ${pythonJsonDumps(v)}`);
    return `{${parts.join(', ')}}`;
  }
  return 'null';
}

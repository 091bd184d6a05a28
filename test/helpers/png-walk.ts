/**
 * An independent PNG reader for tests: walks the chunks with their CRCs
 * checked and decodes tEXt/iTXt the way the PNG spec says. Written apart from
 * src/media/png.ts on purpose, so that the server's reader cannot hide a
 * mistake of its writer.
 */
import { inflateSync } from 'node:zlib';

const TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) c = TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export interface WalkedPng {
  width: number;
  height: number;
  chunkTypes: string[];
  text: Record<string, string>;
}

export function walkPng(buf: Buffer): WalkedPng {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!sig.every((b, i) => buf[i] === b)) throw new Error('no PNG signature');
  let off = 8;
  const out: WalkedPng = { width: 0, height: 0, chunkTypes: [], text: {} };
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (crc(buf.subarray(off + 4, off + 8 + len)) !== buf.readUInt32BE(off + 8 + len))
      throw new Error(`bad CRC in ${type}`);
    out.chunkTypes.push(type);
    if (type === 'IHDR') {
      out.width = data.readUInt32BE(0);
      out.height = data.readUInt32BE(4);
    } else if (type === 'tEXt') {
      const nul = data.indexOf(0);
      out.text[data.toString('latin1', 0, nul)] = data.toString('latin1', nul + 1);
    } else if (type === 'iTXt') {
      const nul = data.indexOf(0);
      const compressed = data[nul + 1] === 1;
      const lang = data.indexOf(0, nul + 3);
      const tr = data.indexOf(0, lang + 1);
      const body = data.subarray(tr + 1);
      out.text[data.toString('latin1', 0, nul)] = (compressed ? inflateSync(body) : body).toString('utf8');
    }
    off += 12 + len;
    if (type === 'IEND') break;
  }
  if (out.chunkTypes[0] !== 'IHDR' || out.chunkTypes.at(-1) !== 'IEND')
    throw new Error('chunks out of order');
  return out;
}

/**
 * Small real JPEGs for sampler previews (binary frames type 1 and 4). Each
 * 8×8 block is one flat colour, so only DC coefficients are coded: a baseline
 * JFIF encoder in a few lines, with no DCT and no dependency. The result
 * decodes in any JPEG reader (a blocky gradient that changes per step).
 */

// Standard luminance DC Huffman table (ITU T.81 K.3): code lengths per category.
const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

function huffmanCodes(bits: number[], vals: number[]): Map<number, [code: number, len: number]> {
  const out = new Map<number, [number, number]>();
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]!; i++) out.set(vals[k++]!, [code++, len]);
    code <<= 1;
  }
  return out;
}

const DC_CODES = huffmanCodes(DC_BITS, DC_VALS);

class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(value: number, len: number): void {
    for (let i = len - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0); // byte stuffing
    this.acc = 0;
    this.n = 0;
  }
  finish(): Buffer {
    while (this.n !== 0) this.write(1, 1); // pad with 1-bits
    return Buffer.from(this.bytes);
  }
}

function segment(marker: number, body: number[] | Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, Buffer.from(body)]);
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

/**
 * Encodes a JPEG of `blocksX × blocksY` flat 8×8 blocks; `color(bx, by)`
 * gives each block's RGB.
 */
export function encodeBlockJpeg(
  blocksX: number,
  blocksY: number,
  color: (bx: number, by: number) => [number, number, number],
): Buffer {
  const width = blocksX * 8;
  const height = blocksY * 8;
  const app0 = [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  // One quantisation table of 8s: a flat block's DC coefficient is 8·(v−128).
  const dqt = [0, ...new Array<number>(64).fill(8)];
  const sof = [
    8,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    3,
    1,
    0x11,
    0,
    2,
    0x11,
    0,
    3,
    0x11,
    0,
  ];
  const dhtDc = [0x00, ...DC_BITS, ...DC_VALS];
  // AC table with a single symbol, EOB (0x00), coded as the 1-bit code "0".
  const dhtAc = [0x10, 1, ...new Array<number>(15).fill(0), 0x00];
  const sos = [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0];
  const bits = new BitWriter();
  const prev = [0, 0, 0];
  for (let by = 0; by < blocksY; by++) {
    for (let bx = 0; bx < blocksX; bx++) {
      const [r, g, b] = color(bx, by);
      const ycc = [
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
      ];
      for (let c = 0; c < 3; c++) {
        const dc = clamp(ycc[c]!) - 128;
        const diff = dc - prev[c]!;
        prev[c] = dc;
        const cat = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
        const [code, len] = DC_CODES.get(cat)!;
        bits.write(code, len);
        if (cat > 0) bits.write(diff > 0 ? diff : diff - 1 + (1 << cat), cat);
        bits.write(0, 1); // EOB: all AC coefficients are zero
      }
    }
  }
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, app0),
    segment(0xdb, dqt),
    segment(0xc0, sof),
    segment(0xc4, dhtDc),
    segment(0xc4, dhtAc),
    segment(0xda, sos),
    bits.finish(),
    Buffer.from([0xff, 0xd9]),
  ]);
}

/** A 64×64 preview for sampler step `step` of `total`, varied by `seed`. */
export function previewJpeg(seed: number, step: number, total: number): Buffer {
  const t = total > 0 ? step / total : 1;
  const hue = (seed * 37) % 256;
  return encodeBlockJpeg(8, 8, (bx, by) => [
    (hue + bx * 24) % 256,
    Math.round(255 * t * (by / 7)),
    255 - ((hue + by * 16) % 256),
  ]);
}

/**
 * The workflow a history image carries, the way ComfyUI's SaveImage writes it
 * (comfyui-protocol.md §7): a `prompt` text chunk with the API graph and one
 * chunk per key of `extra_data.extra_pnginfo` (normally `workflow`), each the
 * Python `json.dumps` text of the value. Dropped onto ComfyUI's canvas, such
 * a PNG loads its workflow, or the API prompt when there is none. Pure.
 */
import type { PromptGraph } from '../domain/job.js';
import { crc32, encodePng, pythonJsonDumps, readPngChunks, type TextChunk } from './png.js';

export interface WorkflowSource {
  prompt: PromptGraph;
  /** the UI workflow, or null for a job sent as an API prompt only */
  workflow: unknown | null;
  extraData: Record<string, unknown>;
}

/** `prompt`, then `workflow` (when there is one), then the other extra_pnginfo keys, as SaveImage orders them. */
export function workflowTextChunks(job: WorkflowSource): TextChunk[] {
  const out: TextChunk[] = [{ keyword: 'prompt', text: pythonJsonDumps(job.prompt) }];
  const info = job.extraData.extra_pnginfo;
  const extra: Record<string, unknown> =
    info && typeof info === 'object' && !Array.isArray(info) ? { ...(info as Record<string, unknown>) } : {};
  if (job.workflow !== null && job.workflow !== undefined) extra.workflow = job.workflow;
  else delete extra.workflow;
  const keys = Object.keys(extra).sort((a, b) => (a === 'workflow' ? -1 : b === 'workflow' ? 1 : 0));
  for (const key of keys) {
    // A PNG keyword is 1–79 Latin-1 characters; anything else could not be read back.
    if (key.length === 0 || key.length > 79 || !/^[\x20-\x7e\xa1-\xff]+$/.test(key)) continue;
    out.push({ keyword: key, text: pythonJsonDumps(extra[key]) });
  }
  return out;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(head.subarray(4), data), 0);
  return Buffer.concat([head, data, crc]);
}

const TEXT_TYPES = new Set(['tEXt', 'iTXt', 'zTXt']);

/**
 * The PNG with its text chunks replaced by `texts`, placed right after IHDR as
 * Pillow places them. The texts must be Latin-1 (pythonJsonDumps output is
 * ASCII), so each is a tEXt chunk. Throws on a buffer that is not a PNG.
 */
export function withTextChunks(png: Buffer, texts: readonly TextChunk[]): Buffer {
  const chunks = readPngChunks(png) ?? [];
  if (chunks[0]?.type !== 'IHDR') throw new TypeError('not a PNG');
  const parts: Buffer[] = [png.subarray(0, 8)];
  for (const c of chunks) {
    if (TEXT_TYPES.has(c.type)) continue;
    parts.push(chunk(c.type, c.data));
    if (c.type === 'IHDR') {
      for (const t of texts) {
        parts.push(
          chunk(
            'tEXt',
            Buffer.concat([
              Buffer.from(t.keyword, 'latin1'),
              Buffer.from([0]),
              Buffer.from(t.text, 'latin1'),
            ]),
          ),
        );
      }
    }
  }
  return Buffer.concat(parts);
}

/** The image served for a job without a thumbnail: a neutral 128×128 tile with a darker frame. */
export const PLACEHOLDER_SIZE = 128;
export const PLACEHOLDER_PNG: Buffer = (() => {
  const n = PLACEHOLDER_SIZE;
  const pixels = Buffer.alloc(n * n * 3);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const edge = x < 4 || y < 4 || x >= n - 4 || y >= n - 4;
      // a diagonal stripe, so that the tile reads as "no image" rather than an empty render
      const stripe = Math.abs(x - y) < 3 || Math.abs(x + y - n) < 3;
      const v = edge ? 0x55 : stripe ? 0x66 : 0x3a;
      pixels.fill(v, (y * n + x) * 3, (y * n + x) * 3 + 3);
    }
  }
  return encodePng({ width: n, height: n, channels: 3, pixels }, [], 9);
})();

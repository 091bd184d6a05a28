/**
 * What flows along the simulator's links. Nothing is computed: an IMAGE is
 * its size and a recipe for its pixels, so saving one yields a real,
 * recognisable PNG without any image processing.
 */
import { encodePng, pythonJsonDumps, type TextChunk } from '../media/png.js';
import type { FileStore, FileType } from './file-store.js';

export type Fill = { kind: 'solid'; rgb: [number, number, number] } | { kind: 'noise'; seed: number };

export interface ImageValue {
  kind: 'IMAGE';
  width: number;
  height: number;
  batch: number;
  fill: Fill;
  inverted: boolean;
}

export interface LatentValue {
  kind: 'LATENT';
  width: number;
  height: number;
  batch: number;
  seed: number | null;
}

/** MODEL, CLIP, VAE, CONDITIONING, MASK: opaque handles. */
export interface OpaqueValue {
  kind: string;
  label: string;
}

export type SimValue = ImageValue | LatentValue | OpaqueValue;

export interface FileItem {
  filename: string;
  subfolder: string;
  type: FileType;
}

/** Saved images are scaled down to fit in this many pixels per side: enough to look at, cheap to encode. */
const MAX_SIDE = 64;

function render(img: ImageValue): { width: number; height: number; pixels: Buffer } {
  const scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
  const width = Math.max(1, Math.round(img.width * scale));
  const height = Math.max(1, Math.round(img.height * scale));
  const pixels = Buffer.alloc(width * height * 3);
  const { fill } = img;
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 3) {
      let r: number;
      let g: number;
      let b: number;
      if (fill.kind === 'solid') [r, g, b] = fill.rgb;
      else {
        r = ((x * 255) / width + fill.seed * 31) & 255;
        g = ((y * 255) / height + fill.seed * 17) & 255;
        b = (((x + y) * 128) / (width + height) + fill.seed * 7) & 255;
      }
      pixels[o] = img.inverted ? 255 - r : r;
      pixels[o + 1] = img.inverted ? 255 - g : g;
      pixels[o + 2] = img.inverted ? 255 - b : b;
    }
  }
  return { width, height, pixels };
}

/** `"sub/dir/name"` → subfolder `sub/dir`, name `name` (ComfyUI's get_save_image_path). */
export function splitPrefix(prefix: string): { subfolder: string; name: string } {
  const norm = prefix.replace(/\\/g, '/');
  const i = norm.lastIndexOf('/');
  return i < 0 ? { subfolder: '', name: norm } : { subfolder: norm.slice(0, i), name: norm.slice(i + 1) };
}

/**
 * SaveImage/PreviewImage: one `<prefix>_<5-digit counter>_.png` per batch
 * item, with `prompt` and each `extra_pnginfo` key as tEXt JSON chunks.
 */
export function saveImages(
  files: FileStore,
  img: ImageValue,
  prefix: string,
  type: FileType,
  prompt: unknown,
  extraPngInfo: unknown,
): FileItem[] {
  const texts: TextChunk[] = [];
  if (prompt !== undefined) texts.push({ keyword: 'prompt', text: pythonJsonDumps(prompt) });
  if (extraPngInfo && typeof extraPngInfo === 'object' && !Array.isArray(extraPngInfo)) {
    for (const [k, v] of Object.entries(extraPngInfo)) texts.push({ keyword: k, text: pythonJsonDumps(v) });
  }
  const { subfolder, name } = splitPrefix(prefix);
  const raw = render(img);
  // SaveImage writes with compress_level 4, PreviewImage with 1.
  const png = encodePng({ ...raw, channels: 3 }, texts, type === 'temp' ? 1 : 4);
  const first = files.nextCounter(type, subfolder, name, img.batch);
  const out: FileItem[] = [];
  for (let i = 0; i < img.batch; i++) {
    const filename = `${name.replaceAll('%batch_num%', String(i))}_${String(first + i).padStart(5, '0')}_.png`;
    files.put(type, subfolder, filename, png);
    out.push({ filename, subfolder, type });
  }
  return out;
}

/** How a value appears in execution_error.current_inputs (Python's str() of the object). */
export function describeValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object') return v;
  const s = v as SimValue;
  if (s.kind === 'IMAGE' || s.kind === 'LATENT') {
    const i = s as ImageValue | LatentValue;
    return `<${s.kind} batch=${i.batch} ${i.width}x${i.height}>`;
  }
  if ('label' in s) return `<${s.kind} ${s.label}>`;
  return pythonJsonDumps(v);
}

/**
 * Which output of a finished job its history thumbnail is made from: the
 * preview output (seed 003's priority, comfy-outputs.ts) when it is an image
 * file, else the first image file among the outputs, preferring type
 * "output" to temp previews. Video, audio, 3D and text outputs give no
 * thumbnail (the placeholder is served). Pure.
 */
import { outputsSummary } from './comfy-outputs.js';

export interface OutputFileRef {
  filename: string;
  subfolder: string;
  type: string;
}

const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.avif', '.bmp', '.tif', '.tiff'];

export function isImageFile(filename: string): boolean {
  const lower = filename.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

function asRef(item: unknown): OutputFileRef | null {
  if (!item || typeof item !== 'object') return null;
  const f = item as Record<string, unknown>;
  if (typeof f.filename !== 'string' || !isImageFile(f.filename)) return null;
  return {
    filename: f.filename,
    subfolder: typeof f.subfolder === 'string' ? f.subfolder : '',
    type: typeof f.type === 'string' ? f.type : 'output',
  };
}

export function thumbnailSource(outputs: Record<string, unknown> | null): OutputFileRef | null {
  if (!outputs) return null;
  const preview = asRef(outputsSummary(outputs).preview);
  if (preview) return preview;
  let fallback: OutputFileRef | null = null;
  for (const node of Object.values(outputs)) {
    if (!node || typeof node !== 'object') continue;
    for (const items of Object.values(node as Record<string, unknown>)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        const ref = asRef(item);
        if (!ref) continue;
        if (ref.type === 'output') return ref;
        fallback ??= ref;
      }
    }
  }
  return fallback;
}

/** The file of output `index` of node `node` (any media type with file items), or null. */
export function outputFileAt(
  outputs: Record<string, unknown> | null,
  node: string,
  index: number,
): OutputFileRef | null {
  const n = outputs?.[node];
  if (!n || typeof n !== 'object') return null;
  let i = 0;
  for (const items of Object.values(n as Record<string, unknown>)) {
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      if (!item || typeof item !== 'object' || typeof (item as { filename?: unknown }).filename !== 'string')
        continue;
      if (i++ === index) {
        const f = item as Record<string, unknown>;
        return {
          filename: f.filename as string,
          subfolder: typeof f.subfolder === 'string' ? f.subfolder : '',
          type: typeof f.type === 'string' ? f.type : 'output',
        };
      }
    }
  }
  return null;
}

/** Whether the job's outputs list this file (a preview serves only what the job produced). */
export function producedFile(outputs: Record<string, unknown> | null, file: OutputFileRef): boolean {
  for (const node of Object.values(outputs ?? {})) {
    if (!node || typeof node !== 'object') continue;
    for (const items of Object.values(node as Record<string, unknown>)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        if (!item || typeof item !== 'object') continue;
        const f = item as Record<string, unknown>;
        if (
          f.filename === file.filename &&
          (typeof f.subfolder === 'string' ? f.subfolder : '') === file.subfolder &&
          (typeof f.type === 'string' ? f.type : 'output') === file.type
        )
          return true;
      }
    }
  }
  return false;
}

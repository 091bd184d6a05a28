/**
 * The files of a job's outputs that are collected: every file item (images,
 * gifs, videos, audio, 3D models...) of type `output`, in the order the
 * outputs list them, each once. Temporary previews (`temp`) and inputs are not
 * collected. Pure.
 */
import type { OutputFileRef } from '../domain/thumbnail-source.js';

export function collectedFiles(outputs: Record<string, unknown> | null): OutputFileRef[] {
  const out: OutputFileRef[] = [];
  const seen = new Set<string>();
  for (const node of Object.values(outputs ?? {})) {
    if (!node || typeof node !== 'object') continue;
    for (const items of Object.values(node as Record<string, unknown>)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        if (!item || typeof item !== 'object') continue;
        const f = item as Record<string, unknown>;
        if (typeof f.filename !== 'string' || f.filename === '') continue;
        const type = typeof f.type === 'string' ? f.type : 'output';
        if (type !== 'output') continue;
        const ref = {
          filename: f.filename,
          subfolder: typeof f.subfolder === 'string' ? f.subfolder : '',
          type,
        };
        const id = `${ref.subfolder}\u0000${ref.filename}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(ref);
      }
    }
  }
  return out;
}

/**
 * ComfyUI's /api/jobs output normalization (seed 003, protocol §5.5), pure:
 * 3D file names given as strings become file dicts, `outputs_count` counts
 * the items, and `preview_output` is the first previewable item of type
 * "output", else the first previewable item, else the first text preview.
 */

const PREVIEWABLE = new Set(['images', 'video', 'audio', '3d', 'text']);
const THREE_D = ['.obj', '.fbx', '.gltf', '.glb', '.usdz'];
export const TEXT_PREVIEW_MAX_LENGTH = 1024;

type Item = Record<string, unknown>;

const isObject = (v: unknown): v is Item => typeof v === 'object' && v !== null && !Array.isArray(v);

export function has3dExtension(filename: string): boolean {
  const lower = filename.toLowerCase();
  return THREE_D.some((ext) => lower.endsWith(ext));
}

function normalizeItem(item: unknown): Item | null {
  if (typeof item === 'string' && has3dExtension(item)) {
    return { filename: item, type: 'output', subfolder: '', mediaType: '3d' };
  }
  return isObject(item) ? item : null;
}

/** The history outputs with 3D file-name strings turned into file dicts and null items dropped. */
export function normalizeOutputs(outputs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [nodeId, node] of Object.entries(outputs)) {
    if (!isObject(node)) {
      out[nodeId] = node;
      continue;
    }
    const n: Item = {};
    for (const [mediaType, items] of Object.entries(node)) {
      if (mediaType === 'animated' || !Array.isArray(items)) {
        n[mediaType] = items;
        continue;
      }
      n[mediaType] = items.filter((i) => i !== null && i !== undefined).map((i) => normalizeItem(i) ?? i);
    }
    out[nodeId] = n;
  }
  return out;
}

function isPreviewable(mediaType: string, item: Item): boolean {
  if (PREVIEWABLE.has(mediaType)) return true;
  const fmt = typeof item.format === 'string' ? item.format : '';
  if (fmt.startsWith('video/') || fmt.startsWith('audio/')) return true;
  return typeof item.filename === 'string' && has3dExtension(item.filename);
}

function textPreview(value: string): Item {
  return value.length <= TEXT_PREVIEW_MAX_LENGTH
    ? { content: value }
    : { content: value.slice(0, TEXT_PREVIEW_MAX_LENGTH), truncated: true };
}

/** `outputs_count` and `preview_output` of a finished job, in one pass. */
export function outputsSummary(outputs: Record<string, unknown> | null): {
  count: number;
  preview: Item | null;
} {
  let count = 0;
  let preview: Item | null = null;
  let fallback: Item | null = null;
  for (const [nodeId, node] of Object.entries(outputs ?? {})) {
    if (!isObject(node)) continue;
    for (const [mediaType, items] of Object.entries(node)) {
      if (mediaType === 'animated' || !Array.isArray(items)) continue;
      for (const raw of items) {
        let item: Item;
        if (!isObject(raw)) {
          const norm = normalizeItem(raw);
          if (!norm) {
            if (mediaType === 'text' && raw !== null && raw !== undefined) {
              count++;
              if (preview === null && fallback === null) {
                const value = Array.isArray(raw) ? String(raw[0] ?? '') : String(raw);
                fallback = { ...textPreview(value), nodeId, mediaType };
              }
            }
            continue;
          }
          item = norm;
        } else item = raw;
        count++;
        if (preview !== null || !isPreviewable(mediaType, item)) continue;
        const enriched: Item = { ...item, nodeId };
        if (!('mediaType' in item)) enriched.mediaType = mediaType;
        if (item.type === 'output') preview = enriched;
        else fallback ??= enriched;
      }
    }
  }
  return { count, preview: preview ?? fallback };
}

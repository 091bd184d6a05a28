/**
 * The event websocket's binary frame: a live preview image and whose it is.
 * The layout is ComfyUI's own PREVIEW_IMAGE_WITH_METADATA (binary type 4,
 * comfyui-protocol.md §3.7), so a client that decodes ComfyUI's frames
 * decodes these; the metadata JSON adds `job_id` and `worker`:
 *
 *   u32 BE  4                  event type
 *   u32 BE  N                  length of the metadata JSON
 *   N bytes metadata (UTF-8)   {"job_id","prompt_id","worker","node_id","display_node_id","image_type"}
 *   rest    the image          JPEG or PNG, as the worker sent it
 *
 * docs/events.md documents it for dashboard authors.
 */
import { type BinaryFrame, PREVIEW_IMAGE_WITH_METADATA, sniffImageMime } from '../comfy/binary-frames.js';

export interface PreviewMeta {
  job_id: string;
  /** the same as job_id: ComfyUI's name for it */
  prompt_id: string;
  worker: string;
  /** the node that produced it, when known */
  node_id: string | null;
  display_node_id: string | null;
  image_type: 'image/jpeg' | 'image/png';
}

export function encodePreviewFrame(meta: PreviewMeta, image: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(PREVIEW_IMAGE_WITH_METADATA, 0);
  head.writeUInt32BE(json.length, 4);
  return Buffer.concat([head, json, image]);
}

export function decodePreviewFrame(buf: Buffer): { meta: PreviewMeta; image: Buffer } | null {
  if (buf.length < 8 || buf.readUInt32BE(0) !== PREVIEW_IMAGE_WITH_METADATA) return null;
  const n = buf.readUInt32BE(4);
  if (8 + n > buf.length) return null;
  try {
    const meta = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as PreviewMeta;
    if (typeof meta?.job_id !== 'string') return null;
    return { meta, image: buf.subarray(8 + n) };
  } catch {
    return null; // not a preview frame of ours: the caller skips it
  }
}

/**
 * The preview a worker's binary frame carries, tagged with its job, or null
 * for frames that are no preview (binary text, unknown types). `currentNode`
 * names the node for type-1 frames, which carry none.
 */
export function previewFromWorker(
  frame: BinaryFrame | null,
  jobId: string,
  worker: string,
  currentNode: string | null,
): Buffer | null {
  if (!frame) return null;
  if (frame.type === 1 && 'mime' in frame) {
    const mime = sniffImageMime(frame.image) ?? frame.mime;
    return encodePreviewFrame(
      {
        job_id: jobId,
        prompt_id: jobId,
        worker,
        node_id: currentNode,
        display_node_id: currentNode,
        image_type: mime,
      },
      frame.image,
    );
  }
  if (frame.type === 4 && 'metadata' in frame) {
    const m = frame.metadata;
    const mime = sniffImageMime(frame.image) ?? m.image_type;
    return encodePreviewFrame(
      {
        job_id: jobId,
        prompt_id: jobId,
        worker,
        node_id: m.node_id ?? null,
        display_node_id: m.display_node_id ?? m.node_id ?? null,
        image_type: mime === 'image/png' ? 'image/png' : 'image/jpeg',
      },
      frame.image,
    );
  }
  return null;
}

/**
 * ComfyUI's binary websocket frames (comfyui-protocol.md §3.7): pure codecs
 * over buffers. All integers are unsigned 32-bit big-endian.
 */

export const PREVIEW_IMAGE = 1;
export const TEXT = 3;
export const PREVIEW_IMAGE_WITH_METADATA = 4;

export type ImageMime = 'image/jpeg' | 'image/png';

export interface PreviewMetadata {
  node_id: string;
  prompt_id: string;
  display_node_id: string;
  parent_node_id: string | null;
  real_node_id: string;
  image_type: ImageMime;
}

export type BinaryFrame =
  | { type: 1; mime: ImageMime; image: Buffer }
  | { type: 3; nodeId: string; text: string }
  | { type: 4; metadata: PreviewMetadata; image: Buffer }
  | { type: number; unknown: true; payload: Buffer };

export function encodePreviewImage(mime: ImageMime, image: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(PREVIEW_IMAGE, 0);
  head.writeUInt32BE(mime === 'image/png' ? 2 : 1, 4);
  return Buffer.concat([head, image]);
}

export function encodePreviewWithMetadata(metadata: PreviewMetadata, image: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(metadata), 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(PREVIEW_IMAGE_WITH_METADATA, 0);
  head.writeUInt32BE(json.length, 4);
  return Buffer.concat([head, json, image]);
}

export function encodeText(nodeId: string, text: string): Buffer {
  const node = Buffer.from(nodeId, 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(TEXT, 0);
  head.writeUInt32BE(node.length, 4);
  return Buffer.concat([head, node, Buffer.from(text, 'utf8')]);
}

/** Decodes one binary frame; null when it is too short or malformed. */
export function decodeBinaryFrame(buf: Buffer): BinaryFrame | null {
  if (buf.length < 4) return null;
  const type = buf.readUInt32BE(0);
  if (type === PREVIEW_IMAGE) {
    if (buf.length < 8) return null;
    const fmt = buf.readUInt32BE(4);
    return { type: 1, mime: fmt === 2 ? 'image/png' : 'image/jpeg', image: buf.subarray(8) };
  }
  if (type === TEXT) {
    if (buf.length < 8) return null;
    const n = buf.readUInt32BE(4);
    if (8 + n > buf.length) return null;
    return {
      type: 3,
      nodeId: buf.subarray(8, 8 + n).toString('utf8'),
      text: buf.subarray(8 + n).toString('utf8'),
    };
  }
  if (type === PREVIEW_IMAGE_WITH_METADATA) {
    if (buf.length < 8) return null;
    const m = buf.readUInt32BE(4);
    if (8 + m > buf.length) return null;
    let metadata: PreviewMetadata;
    try {
      metadata = JSON.parse(buf.subarray(8, 8 + m).toString('utf8')) as PreviewMetadata;
    } catch {
      return null; // not an error: a frame that is not ours to read is passed on undecoded
    }
    if (!metadata || typeof metadata !== 'object' || typeof metadata.prompt_id !== 'string') return null;
    return { type: 4, metadata, image: buf.subarray(8 + m) };
  }
  return { type, unknown: true, payload: buf.subarray(4) };
}

/** Sniffs an image's type from its first bytes (JPEG ff d8, PNG 89 'PNG'). */
export function sniffImageMime(image: Buffer): ImageMime | null {
  if (image.length >= 2 && image[0] === 0xff && image[1] === 0xd8) return 'image/jpeg';
  if (image.length >= 4 && image[0] === 0x89 && image.toString('latin1', 1, 4) === 'PNG') return 'image/png';
  return null;
}

/**
 * ComfyUI websocket messages as the events ComfyUI's own `api` dispatches for
 * them (comfyui-protocol.md §3.4, §3.7, §8.5): pure functions from one frame
 * to the `[type, detail]` pairs to dispatch, so that what comfy-queue relays
 * reaches the canvas exactly as if ComfyUI's socket had delivered it.
 */

export type ApiEvent = readonly [type: string, detail: unknown];

/** The execution messages the canvas draws from; each is dispatched with its `data` as the detail. */
const AS_IS = new Set([
  'execution_start',
  'execution_cached',
  'execution_success',
  'execution_error',
  'execution_interrupted',
  'progress',
  'progress_state',
  'executed',
]);

const PREVIEW = 1;
const PREVIEW_WITH_METADATA = 4;

/** A text frame: `status` carries its inner status (the relay's `sid` is not the page's business), `executing` the node to highlight. */
export function textEvents(text: string): ApiEvent[] {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return []; // not JSON: not part of the protocol
  }
  if (typeof msg !== 'object' || msg === null) return [];
  const { type, data } = msg as { type?: unknown; data?: unknown };
  if (typeof type !== 'string' || typeof data !== 'object' || data === null) return [];
  const d = data as Record<string, unknown>;
  if (type === 'status') return [['status', d.status ?? null]];
  if (type === 'executing') return [['executing', d.display_node || d.node || null]];
  return AS_IS.has(type) ? [[type, d]] : [];
}

/**
 * A binary frame. Previews become `b_preview` blobs (and, with metadata,
 * `b_preview_with_metadata` first, as ComfyUI's api does). Progress text
 * (type 3) is left out: ComfyUI broadcasts it to every socket, so a page whose
 * ComfyUI is also a comfy-queue worker already gets it from its own socket.
 */
export function binaryEvents(buf: ArrayBuffer): ApiEvent[] {
  if (buf.byteLength < 8) return [];
  const view = new DataView(buf);
  const kind = view.getUint32(0);
  if (kind === PREVIEW) {
    const mime = view.getUint32(4) === 2 ? 'image/png' : 'image/jpeg';
    return [['b_preview', new Blob([buf.slice(8)], { type: mime })]];
  }
  if (kind !== PREVIEW_WITH_METADATA) return [];
  const n = view.getUint32(4);
  if (8 + n > buf.byteLength) return [];
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n))) as Record<string, unknown>;
  } catch {
    return [];
  }
  const mime = typeof meta.image_type === 'string' ? meta.image_type : 'image/jpeg';
  const blob = new Blob([buf.slice(8 + n)], { type: mime });
  const promptId = meta.prompt_id ?? meta.job_id;
  return [
    [
      'b_preview_with_metadata',
      {
        blob,
        nodeId: meta.node_id,
        displayNodeId: meta.display_node_id,
        parentNodeId: meta.parent_node_id,
        realNodeId: meta.real_node_id,
        promptId,
        jobId: promptId,
      },
    ],
    ['b_preview', blob],
  ];
}

/**
 * The event websocket with its fallback (seed 001): while the socket is open
 * the dashboard is LIVE; when it drops, `poll` runs every `pollMs` (the LIVE
 * bar counts down to the next one) and the socket is retried with backoff
 * until it opens again.
 */
import type { EventMessage, PreviewFrame } from './types.js';

export type LiveState = 'connecting' | 'live' | 'fallback';

export interface LiveHandlers {
  message(msg: EventMessage): void;
  preview(frame: PreviewFrame): void;
  /** a fallback poll (GET /api/admin/queue and friends) */
  poll(): void | Promise<void>;
  state(state: LiveState, nextPollAt: number | null): void;
}

export interface LiveOptions {
  url: () => string;
  pollMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
}

const PREVIEW_WITH_METADATA = 4;

/** Decodes a binary preview frame (ComfyUI's type 4 layout with `job_id` in the metadata). */
export function decodePreview(buf: ArrayBuffer): PreviewFrame | null {
  if (buf.byteLength < 8) return null;
  const view = new DataView(buf);
  if (view.getUint32(0) !== PREVIEW_WITH_METADATA) return null;
  const n = view.getUint32(4);
  if (8 + n > buf.byteLength) return null;
  try {
    const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, n))) as {
      job_id?: unknown;
      display_node_id?: unknown;
      node_id?: unknown;
      image_type?: unknown;
    };
    if (typeof meta.job_id !== 'string') return null;
    const node = typeof meta.display_node_id === 'string' ? meta.display_node_id : meta.node_id;
    return {
      jobId: meta.job_id,
      nodeId: typeof node === 'string' ? node : null,
      mime: meta.image_type === 'image/png' ? 'image/png' : 'image/jpeg',
      bytes: new Uint8Array(buf, 8 + n),
    };
  } catch {
    return null;
  }
}

export class LiveConnection {
  private socket: WebSocket | null = null;
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryMs: number;
  private stopped = false;
  readonly pollMs: number;

  constructor(
    private readonly opts: LiveOptions,
    private readonly on: LiveHandlers,
  ) {
    this.pollMs = opts.pollMs ?? 5_000;
    this.retryMs = opts.retryMinMs ?? 1_000;
  }

  start(): void {
    this.stopped = false;
    this.on.state('connecting', null);
    void this.on.poll();
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearPoll();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const s = this.socket;
    this.socket = null;
    s?.close();
  }

  private connect(): void {
    if (this.stopped) return;
    let s: WebSocket;
    try {
      s = new WebSocket(this.opts.url());
    } catch {
      this.dropped();
      return;
    }
    s.binaryType = 'arraybuffer';
    this.socket = s;
    s.onopen = () => {
      if (this.socket !== s) return;
      this.retryMs = this.opts.retryMinMs ?? 1_000;
      this.clearPoll();
      this.on.state('live', null);
    };
    s.onmessage = (ev: MessageEvent) => {
      if (this.socket !== s) return;
      if (typeof ev.data === 'string') {
        try {
          this.on.message(JSON.parse(ev.data) as EventMessage);
        } catch {
          // not JSON: not part of the protocol
        }
      } else if (ev.data instanceof ArrayBuffer) {
        const frame = decodePreview(ev.data);
        if (frame) this.on.preview(frame);
      }
    };
    s.onclose = () => {
      if (this.socket !== s) return;
      this.socket = null;
      this.dropped();
    };
  }

  private dropped(): void {
    if (this.stopped) return;
    if (!this.pollTimer) this.schedulePoll();
    const wait = this.retryMs;
    this.retryMs = Math.min(this.opts.retryMaxMs ?? 10_000, this.retryMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, wait);
  }

  private schedulePoll(): void {
    const at = Date.now() + this.pollMs;
    this.on.state('fallback', at);
    this.pollTimer = setTimeout(async () => {
      this.pollTimer = null;
      if (this.stopped || this.isOpen()) return;
      await this.on.poll();
      if (!this.stopped && !this.isOpen() && !this.pollTimer) this.schedulePoll();
    }, this.pollMs);
  }

  private isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  private clearPoll(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }
}

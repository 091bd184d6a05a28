/**
 * The page's socket to comfy-queue's ComfyUI-compatible /ws (ComfyUI opened
 * directly, the Queue button redirected to comfy-queue): comfy-queue relays
 * the worker events of the jobs this page queued, and they are dispatched
 * into ComfyUI's `api` so that the canvas shows progress, highlights,
 * previews and outputs as usual. The socket is also how the page knows at
 * once whether comfy-queue is reachable.
 */
import { type ApiEvent, binaryEvents, textEvents } from './comfy-events.js';

export type Reachability = 'unknown' | 'reachable' | 'unreachable';

export interface RelayOptions {
  /** comfy-queue's ws address for a clientId (with the token, when one is set) */
  url: (clientId: string) => string;
  /** dispatches one event into ComfyUI's api */
  dispatch: (event: ApiEvent) => void;
  /** called on every change of reachability */
  state: (state: Reachability) => void;
  /** how long `ready()` waits for a socket that does not open */
  openTimeoutMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class ComfyQueueRelay {
  private socket: WebSocket | null = null;
  /** the address of the current socket (clientId, token and all): a new one reconnects */
  private target: string | null = null;
  private opening: Promise<void> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryMs: number;
  private stopped = true;
  private reach: Reachability = 'unknown';

  constructor(private readonly opts: RelayOptions) {
    this.retryMs = opts.retryMinMs ?? 1_000;
  }

  get reachability(): Reachability {
    return this.reach;
  }

  /** Keeps a socket open for `clientId` (reconnecting with backoff) until stop(). */
  start(clientId: string): void {
    this.stopped = false;
    const target = this.opts.url(clientId);
    if (this.target === target && (this.socket || this.retryTimer)) return;
    this.target = target;
    this.reconnectNow();
  }

  stop(): void {
    this.stopped = true;
    this.clearRetry();
    this.closeSocket();
    this.setState('unknown');
  }

  /**
   * Resolves once a socket for `clientId` is open, so that a job queued next
   * has its first events delivered; rejects when comfy-queue cannot be reached.
   */
  async ready(clientId: string): Promise<void> {
    this.stopped = false;
    const target = this.opts.url(clientId);
    if (this.target !== target) {
      this.target = target;
      this.reconnectNow();
    } else if (this.socket?.readyState === WebSocket.OPEN) {
      return;
    } else if (!this.opening) {
      this.reconnectNow();
    }
    await this.opening;
  }

  private reconnectNow(): void {
    this.clearRetry();
    this.closeSocket();
    this.opening = this.connect();
    this.opening.catch(() => undefined); // the state change reports it; ready() callers get the rejection
  }

  private connect(): Promise<void> {
    const target = this.target ?? '';
    return new Promise<void>((resolve, reject) => {
      let s: WebSocket;
      try {
        s = new WebSocket(target);
      } catch (err) {
        this.opening = null;
        this.dropped();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      s.binaryType = 'arraybuffer';
      this.socket = s;
      const timer = setTimeout(() => s.close(), this.opts.openTimeoutMs ?? 5_000);
      s.onopen = () => {
        clearTimeout(timer);
        if (this.socket !== s) return;
        this.opening = null;
        this.retryMs = this.opts.retryMinMs ?? 1_000;
        // Type-4 previews carry the prompt id, so the canvas can tell whose preview it is.
        s.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
        this.setState('reachable');
        resolve();
      };
      s.onmessage = (ev: MessageEvent) => {
        if (this.socket !== s) return;
        const events =
          typeof ev.data === 'string'
            ? textEvents(ev.data)
            : ev.data instanceof ArrayBuffer
              ? binaryEvents(ev.data)
              : [];
        for (const e of events) this.opts.dispatch(e);
      };
      s.onclose = () => {
        clearTimeout(timer);
        if (this.socket !== s) {
          reject(new Error('replaced by a newer connection'));
          return;
        }
        this.socket = null;
        this.opening = null;
        this.dropped();
        reject(new Error('comfy-queue closed the connection or cannot be reached'));
      };
    });
  }

  private dropped(): void {
    this.setState('unreachable');
    if (this.stopped) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.opts.retryMaxMs ?? 30_000, this.retryMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.reconnectNow();
    }, wait);
  }

  private setState(state: Reachability): void {
    if (state === this.reach) return;
    this.reach = state;
    this.opts.state(state);
  }

  private closeSocket(): void {
    const s = this.socket;
    this.socket = null;
    s?.close();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

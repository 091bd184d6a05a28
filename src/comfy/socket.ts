/**
 * One websocket to a ComfyUI server under a chosen clientId. It sends the
 * feature-flag handshake (so previews arrive as type-4 frames that name their
 * prompt) and hands every frame to the caller, parsed and raw. Reconnecting is
 * the caller's business: this object lives for one connection.
 */
import WebSocket from 'ws';
import { type BinaryFrame, decodeBinaryFrame } from './binary-frames.js';
import { tlsCa } from './client.js';
import { type ComfyMessage, parseComfyMessage } from './messages.js';

export interface ComfySocketHandlers {
  onOpen(): void;
  onMessage(message: ComfyMessage, raw: string): void;
  onBinary(frame: BinaryFrame | null, raw: Buffer): void;
  onClose(reason: string): void;
}

export function wsUrlFor(baseUrl: string, clientId: string): string {
  const u = new URL(baseUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/$/, '')}/ws`;
  u.search = `?clientId=${encodeURIComponent(clientId)}`;
  return u.toString();
}

export interface ComfySocketOptions {
  /** a CA certificate (PEM) trusted for a wss:// worker, besides the bundled ones */
  ca?: string | null;
  handshakeTimeoutMs?: number;
}

export class ComfySocket {
  private readonly ws: WebSocket;
  private closed = false;
  /** pings sent and not answered yet (ComfyUI's aiohttp answers each with a pong) */
  private unanswered = 0;

  constructor(
    baseUrl: string,
    clientId: string,
    handlers: ComfySocketHandlers,
    opts: ComfySocketOptions = {},
  ) {
    this.ws = new WebSocket(wsUrlFor(baseUrl, clientId), {
      perMessageDeflate: false,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
      ca: tlsCa(opts.ca),
    });
    this.ws.on('pong', () => {
      this.unanswered = 0;
    });
    this.ws.on('open', () => {
      this.ws.send(JSON.stringify({ type: 'feature_flags', data: { supports_preview_metadata: true } }));
      handlers.onOpen();
    });
    this.ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        handlers.onBinary(decodeBinaryFrame(buf), buf);
        return;
      }
      const text = buf.toString('utf8');
      const parsed = parseComfyMessage(text);
      // A message of a shape comfy-queue does not know is ComfyUI's or an extension's business: skipped.
      if (parsed.ok) handlers.onMessage(parsed.message, text);
    });
    const done = (reason: string) => {
      if (this.closed) return;
      this.closed = true;
      handlers.onClose(reason);
    };
    this.ws.on('close', (code) => done(`closed (${code})`));
    this.ws.on('error', (err) => {
      done(err.message);
      this.ws.terminate();
    });
  }

  /**
   * Sends a ping; resolves false when the previous one is still unanswered
   * (the worker stopped reading its socket), true otherwise.
   */
  ping(): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const answered = this.unanswered === 0;
    this.unanswered++;
    this.ws.ping();
    return answered;
  }

  close(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

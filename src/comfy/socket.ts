/**
 * One websocket to a ComfyUI server under a chosen clientId. It sends the
 * feature-flag handshake (so previews arrive as type-4 frames that name their
 * prompt) and hands every frame to the caller, parsed and raw. Reconnecting is
 * the caller's business: this object lives for one connection.
 */
import WebSocket from 'ws';
import { type BinaryFrame, decodeBinaryFrame } from './binary-frames.js';
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

export class ComfySocket {
  private readonly ws: WebSocket;
  private closed = false;

  constructor(baseUrl: string, clientId: string, handlers: ComfySocketHandlers) {
    this.ws = new WebSocket(wsUrlFor(baseUrl, clientId), {
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
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

  close(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

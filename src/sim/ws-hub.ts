/**
 * The simulator's `/ws` sockets with ComfyUI's sid semantics
 * (comfyui-protocol.md §3.1–3.3): `clientId` becomes the sid (else a uuid4
 * hex), a newer socket with the same sid silently replaces the older one, a
 * closing socket removes its sid even if replaced (as ComfyUI does), and only
 * the first text message may be the feature-flags handshake.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';

/** The server feature flags ComfyUI v0.25 advertises (07_features.json). */
export const SERVER_FEATURE_FLAGS = {
  supports_preview_metadata: true,
  max_upload_size: 104857600,
  extension: { manager: { supports_v4: true } },
  node_replacements: true,
  assets: false,
};

interface Client {
  ws: WebSocket;
  flags: Record<string, unknown>;
}

/** `sid` null = broadcast to every socket, as ComfyUI's `send_sync(..., sid=None)`. */
export type Target = string | null;

export class WsHub {
  private clients = new Map<string, Client>();

  /**
   * Registers a new socket. `hello(sid)` gives the text messages to send it
   * right away (the status with sid, and the reconnect `executing`).
   */
  attach(ws: WebSocket, clientId: string | null, hello: (sid: string) => object[]): void {
    const sid = clientId ? clientId : randomUUID().replaceAll('-', '');
    const client: Client = { ws, flags: {} };
    this.clients.set(sid, client);
    for (const m of hello(sid)) ws.send(JSON.stringify(m));
    let first = true;
    ws.on('message', (data, isBinary) => {
      if (isBinary || !first) return;
      try {
        const msg = JSON.parse(data.toString()) as { type?: unknown; data?: unknown };
        if (msg?.type === 'feature_flags') {
          client.flags =
            typeof msg.data === 'object' && msg.data !== null ? (msg.data as Record<string, unknown>) : {};
          ws.send(JSON.stringify({ type: 'feature_flags', data: SERVER_FEATURE_FLAGS }));
        }
        first = false;
      } catch {
        // ComfyUI logs non-JSON text and keeps waiting for a first JSON message.
      }
    });
    ws.on('close', () => this.clients.delete(sid));
    ws.on('error', () => this.clients.delete(sid));
  }

  /** True when the socket registered under `sid` negotiated binary type-4 previews. */
  supportsPreviewMetadata(sid: Target): boolean {
    return sid !== null && this.clients.get(sid)?.flags.supports_preview_metadata === true;
  }

  send(type: string, data: unknown, sid: Target): void {
    this.sendRaw(JSON.stringify({ type, data }), sid);
  }

  sendBinary(frame: Buffer, sid: Target): void {
    this.sendRaw(frame, sid);
  }

  get size(): number {
    return this.clients.size;
  }

  closeAll(): void {
    for (const { ws } of this.clients.values()) ws.terminate();
    this.clients.clear();
  }

  private sendRaw(payload: string | Buffer, sid: Target): void {
    if (sid === null) {
      for (const { ws } of this.clients.values()) if (ws.readyState === ws.OPEN) ws.send(payload);
      return;
    }
    const c = this.clients.get(sid);
    if (c && c.ws.readyState === c.ws.OPEN) c.ws.send(payload);
  }
}

/**
 * Following comfy-queue's event websocket (docs/events.md) from the command
 * line: the first connection must succeed (else the same errors as a
 * request); a connection lost later is opened again, and each new connection
 * begins with a snapshot, so the caller resynchronises there.
 */
import type WebSocket from 'ws';
import { type ApiClient, ApiError, UnreachableError } from './api-client.js';
import type { EventMessage } from './api-types.js';

export interface EventHandlers {
  /** the `snapshot` message, first on every connection */
  onSnapshot(msg: EventMessage): void;
  /** every later text message */
  onEvent(msg: EventMessage): void;
  /** the connection was lost; it is being opened again */
  onReconnecting?(reason: string): void;
}

export interface Follower {
  close(): void;
}

const RETRY_MS = [250, 500, 1000, 2000, 5000];

/** Resolves once the first snapshot has been handled. */
export function followEvents(api: ApiClient, handlers: EventHandlers): Promise<Follower> {
  let closed = false;
  let ws: WebSocket | null = null;
  let retries = 0;
  let timer: NodeJS.Timeout | null = null;
  const follower: Follower = {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    },
  };

  return new Promise((resolve, reject) => {
    let first = true;
    const connect = () => {
      const socket = api.events();
      ws = socket;
      let opened = false;
      socket.on('message', (data, isBinary) => {
        if (isBinary) return;
        const msg = JSON.parse(data.toString()) as EventMessage;
        if (msg.type === 'snapshot') {
          retries = 0;
          handlers.onSnapshot(msg);
          if (first) {
            first = false;
            resolve(follower);
          }
        } else handlers.onEvent(msg);
      });
      socket.on('open', () => {
        opened = true;
      });
      socket.on('unexpected-response', (req, res) => {
        req.destroy();
        const status = res.statusCode ?? 0;
        res.destroy();
        const err =
          status === 401
            ? new ApiError(
                401,
                'UNAUTHORIZED',
                'this server requires a token: give --token or set COMFY_QUEUE_TOKEN',
              )
            : new ApiError(status, `HTTP_${status}`, `the event websocket answered HTTP ${status}`);
        if (first) {
          closed = true;
          reject(err);
        }
      });
      socket.on('error', (err) => {
        if (first && !opened) {
          closed = true;
          reject(new UnreachableError(api.server, (err as Error).message || String(err)));
        }
      });
      socket.on('close', () => {
        if (closed) return;
        const delay = RETRY_MS[Math.min(retries++, RETRY_MS.length - 1)] as number;
        handlers.onReconnecting?.(opened ? 'connection lost' : 'cannot connect');
        timer = setTimeout(connect, delay);
      });
    };
    connect();
  });
}

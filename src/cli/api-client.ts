/**
 * The command line's way to a running comfy-queue: JSON over HTTP with the
 * token, and the three ways a request goes wrong told apart — the server
 * refused (its `{error: {code, message}}`), it could not be reached, or it
 * answered something that is not comfy-queue.
 */
import WebSocket from 'ws';

export const DEFAULT_SERVER = 'http://127.0.0.1:8189';

/** The server answered with an error. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** No answer at all: nothing listens there, or the connection broke. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  constructor(
    readonly server: string,
    reason: string,
  ) {
    super(`cannot reach comfy-queue at ${server}: ${reason}; is \`comfy-queue serve\` running?`);
  }
}

export interface ServerRef {
  server: string;
  token: string | null;
}

export class ApiClient {
  readonly server: string;

  constructor(private readonly ref: ServerRef) {
    this.server = ref.server.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.ref.token) headers.authorization = `Bearer ${this.ref.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.server}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      text = await res.text();
    } catch (err) {
      throw new UnreachableError(this.server, networkReason(err));
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw new ApiError(
        res.status,
        'NOT_COMFY_QUEUE',
        `${method} ${path} answered HTTP ${res.status} with something that is not JSON: is ${this.server} comfy-queue?`,
      );
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof e?.code === 'string' ? e.code : `HTTP_${res.status}`;
      const message =
        typeof e?.message === 'string' ? e.message : `${method} ${path} answered HTTP ${res.status}`;
      throw new ApiError(res.status, code, message);
    }
    return json as T;
  }

  /** Opens the event websocket (docs/events.md). */
  events(): WebSocket {
    const u = new URL(`${this.server}/api/pqueue/ws`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const headers: Record<string, string> = {};
    if (this.ref.token) headers.authorization = `Bearer ${this.ref.token}`;
    return new WebSocket(u, { headers });
  }
}

/** What went wrong with a connection, from fetch's wrapped cause. */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return (err as Error).message ?? String(err);
}

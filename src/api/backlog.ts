/**
 * How far a websocket client may fall behind. What a client does not read
 * piles up in the server's memory (the socket's bufferedAmount), so every
 * websocket that pushes (the event websocket, ComfyUI's /ws) sends through
 * here: beyond `previewBytes` the client gets no previews (the next ones
 * replace them anyway), and a client beyond `maxBytes`, or behind for longer
 * than `behindMs`, is disconnected — it is not reading.
 */

export interface BacklogLimits {
  /** buffered bytes beyond which previews are dropped for this client */
  previewBytes: number;
  /** buffered bytes beyond which the client is disconnected */
  maxBytes: number;
  /** a client behind (beyond previewBytes) this long is disconnected */
  behindMs: number;
}

export const DEFAULT_BACKLOG: BacklogLimits = {
  previewBytes: 1 << 20,
  maxBytes: 16 << 20,
  behindMs: 30_000,
};

/** The part of a `ws` WebSocket this needs. */
export interface BoundedSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  /** drops the connection at once: a close handshake would wait on a client that does not read */
  terminate(): void;
}

/** Per-client state: since when it has been behind. */
export interface BacklogState {
  behindSince: number | null;
}

export type SendOutcome = 'sent' | 'dropped' | 'disconnected' | 'not-open';

const OPEN = 1;

export function sendBounded(
  socket: BoundedSocket,
  state: BacklogState,
  data: string | Buffer,
  isPreview: boolean,
  limits: BacklogLimits,
  now: number,
): SendOutcome {
  if (socket.readyState !== OPEN) return 'not-open';
  const buffered = socket.bufferedAmount;
  if (buffered > limits.previewBytes) {
    state.behindSince ??= now;
    if (buffered > limits.maxBytes || now - state.behindSince >= limits.behindMs) {
      socket.terminate();
      return 'disconnected';
    }
    if (isPreview) return 'dropped';
  } else {
    state.behindSince = null;
  }
  socket.send(data);
  return 'sent';
}

/** Counters of one websocket endpoint, for the log and tests. */
export interface BacklogStats {
  clients: number;
  /** the largest bufferedAmount seen on a client before a send */
  peakBuffered: number;
  previewsDropped: number;
  disconnected: number;
}

/**
 * Messages sent to one websocket within a turn of the event loop leave in one
 * write: its TCP socket is corked at the first and uncorked once the turn's
 * work is done (setImmediate). A broadcast of a job's events to a hundred
 * dashboards otherwise costs a system call per message and client, which
 * was most of the server's time at 100 clients (bench/memory.ts).
 */
import type { Socket } from 'node:net';

const corked = new Set<Socket>();
let flushScheduled = false;

/** Corks the socket under a `ws` WebSocket (its `_socket`) until the end of this turn. */
export function corkForTurn(ws: object): void {
  const socket = (ws as { _socket?: Socket | null })._socket;
  if (!socket || socket.destroyed || corked.has(socket)) return;
  socket.cork();
  corked.add(socket);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushScheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

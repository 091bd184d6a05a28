/**
 * How the simulator puts an answer on the wire. By default Node writes the
 * status line, headers and a small body together. A real ComfyUI (aiohttp)
 * does not: it writes the status line and headers first and the body
 * afterwards, files by sendfile in pieces, on keep-alive connections. The
 * harsh behaviours reproduce that, each switchable, so that a client (the
 * pass-through proxy above all) meets every timing a real server can have.
 */

import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WireOptions {
  /** Send the status line and headers in a write of their own, this many ms before the body (default: together). */
  headerPauseMs?: number;
  /** Write bodies in pieces of this many bytes (default: one write). */
  chunkBytes?: number;
  /** Pause between two pieces, ms (default 0: the next event-loop turn). */
  chunkPauseMs?: number;
}

/** aiohttp's timings, as harsh as a test may want them. */
export const AIOHTTP_WIRE: Required<WireOptions> = {
  headerPauseMs: 5,
  chunkBytes: 64 * 1024,
  chunkPauseMs: 0,
};

export function isHarsh(wire: WireOptions | undefined): wire is WireOptions {
  return wire !== undefined && (wire.headerPauseMs !== undefined || wire.chunkBytes !== undefined);
}

type End = ServerResponse['end'];

/**
 * Makes `res.end(body)` flush the headers, wait, then write the body in
 * pieces. Every route keeps calling `writeHead` + `end` as before.
 */
export function harshen(res: ServerResponse, wire: WireOptions): void {
  const end = res.end.bind(res) as (cb?: () => void) => ServerResponse;
  const chunkBytes = Math.max(1, wire.chunkBytes ?? Number.POSITIVE_INFINITY);
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    if (typeof chunk === 'function') [cb, chunk] = [chunk, undefined];
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    const body =
      chunk === undefined || chunk === null
        ? Buffer.alloc(0)
        : Buffer.isBuffer(chunk)
          ? chunk
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk)
            : Buffer.from(String(chunk), (encoding as BufferEncoding | undefined) ?? 'utf8');
    res.flushHeaders();
    void writeSlowly(res, body, chunkBytes, wire).then(() => {
      if (!res.destroyed) end(cb as (() => void) | undefined);
    });
    return res;
  }) as End;
}

async function writeSlowly(res: ServerResponse, body: Buffer, chunkBytes: number, wire: WireOptions) {
  if (wire.headerPauseMs) await sleep(wire.headerPauseMs);
  for (let at = 0; at < body.length; at += chunkBytes) {
    if (res.destroyed) return;
    if (at > 0) await (wire.chunkPauseMs ? sleep(wire.chunkPauseMs) : new Promise((r) => setImmediate(r)));
    if (!res.write(body.subarray(at, at + chunkBytes))) await drained(res);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

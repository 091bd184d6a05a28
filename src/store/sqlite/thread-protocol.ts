/**
 * What travels between the SQLite store's thread (store-thread.ts) and the
 * server's thread (threaded-store.ts): calls of JobStore methods by name, their
 * answers, the store's health, and its log lines. Pure: no thread, no driver.
 *
 * Values cross by structured clone, which keeps plain data, Dates, Maps and
 * typed arrays but turns a Buffer into a plain Uint8Array and an Error into a
 * bare Error: `revive` gives Buffers back, `packError`/`unpackError` keep a
 * QueueError's code and details and a driver error's code.
 */
import { QueueError } from '../../domain/errors.js';
import type { StoreHealth } from '../job-store.js';

export interface CallMessage {
  kind: 'call';
  id: number;
  method: string;
  args: unknown[];
}

export type ToThread = CallMessage | { kind: 'close'; id: number };

export interface PackedError {
  name: string;
  message: string;
  code?: string;
  details?: unknown;
  stack?: string;
}

export type FromThread =
  | { kind: 'ready' }
  | { kind: 'failed'; error: PackedError }
  | { kind: 'answer'; id: number; ok: true; value: unknown; health: StoreHealth }
  | { kind: 'answer'; id: number; ok: false; error: PackedError; health: StoreHealth }
  | { kind: 'log'; line: string };

export function packError(err: unknown): PackedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    name: err.name,
    message: err.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(err instanceof QueueError && err.details !== undefined ? { details: err.details } : {}),
    ...(err.stack ? { stack: err.stack } : {}),
  };
}

export function unpackError(packed: PackedError): Error {
  let err: Error;
  if (packed.name === 'QueueError' && packed.code) {
    err = new QueueError(
      packed.code as ConstructorParameters<typeof QueueError>[0],
      packed.message,
      packed.details,
    );
  } else {
    err = new Error(packed.message);
    err.name = packed.name;
    if (packed.code) (err as Error & { code?: string }).code = packed.code;
  }
  // The thread's stack says where it failed; the caller's await adds where it was asked.
  if (packed.stack) err.stack = packed.stack;
  return err;
}

/**
 * Gives back the Buffers that structured clone turned into Uint8Arrays, in
 * place, through plain objects and arrays. Other values are left as they are.
 */
export function revive(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (item !== null && typeof item === 'object') value[i] = revive(item);
    }
    return value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const obj = value as Record<string, unknown>;
  for (const key in obj) {
    const item = obj[key];
    if (item !== null && typeof item === 'object') obj[key] = revive(item);
  }
  return value;
}

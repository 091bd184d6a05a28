/**
 * The SQLite store's own thread. It owns the database connection and runs
 * every JobStore call the server thread sends it, in arrival order; the
 * writes that arrive while a commit (and its fsync) is under way queue up and
 * share the next one (write-gate.ts), so the server's event loop never waits
 * for the disk and a busy server pays one fsync for many jobs' changes.
 *
 * Started by threaded-store.ts with the store's options as workerData.
 */
import { randomUUID } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { SqliteJobStore, type SqliteStoreOptions } from './sqlite-store.js';
import { type FromThread, packError, revive, type ToThread } from './thread-protocol.js';

const port = parentPort;
if (!port) throw new Error('store-thread.ts runs as a worker thread');

const send = (m: FromThread) => port.postMessage(m);

// Log lines go to the server thread, which writes them through its own logger.
const log = pino(
  { level: 'trace', base: undefined, serializers: { err: pino.stdSerializers.err } },
  { write: (line: string) => send({ kind: 'log', line }) },
);

const options = workerData as Omit<SqliteStoreOptions, 'log'>;
const store = new SqliteJobStore({ ...options, log });

/** Calls that cannot carry their function argument across threads. */
const LOCAL_ARGS: Record<string, (args: unknown[]) => unknown[]> = {
  // The server makes job ids with randomUUID; the thread does the same.
  rerunBatchItems: (args) => [args[0], args[1], args[2], randomUUID],
};

async function answer(m: ToThread): Promise<void> {
  try {
    if (m.kind === 'close') {
      await store.close();
      send({ kind: 'answer', id: m.id, ok: true, value: undefined, health: store.health() });
      port?.close();
      return;
    }
    const method = (store as unknown as Record<string, unknown>)[m.method];
    if (typeof method !== 'function') throw new Error(`the store has no method ${m.method}`);
    const args = (revive(m.args) as unknown[]) ?? [];
    const value = await method.apply(store, LOCAL_ARGS[m.method]?.(args) ?? args);
    send({ kind: 'answer', id: m.id, ok: true, value, health: store.health() });
  } catch (err) {
    send({ kind: 'answer', id: m.id, ok: false, error: packError(err), health: store.health() });
  }
}

try {
  await store.init();
  port.on('message', (m: ToThread) => {
    void answer(m);
  });
  send({ kind: 'ready' });
} catch (err) {
  send({ kind: 'failed', error: packError(err) });
}

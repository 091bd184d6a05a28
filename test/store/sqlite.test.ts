import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';
import { runStoreConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'comfy-queue-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const files = new WeakMap<JobStore, string>();
let n = 0;

async function open(file: string): Promise<JobStore> {
  // A short wait for locks, so that the lock cases answer STORE_BUSY quickly.
  const store = await openStore({ kind: 'sqlite', file, busyTimeoutMs: 100 });
  files.set(store, file);
  return store;
}

runStoreConformance('sqlite', () => open(join(dir, `db-${n++}`, 'queue.db')), {
  // The same SQL on the caller's thread: starting the store's thread (about 0.5 s) for each of the
  // properties' 80 runs would take most of this file's time, and every other case goes through it.
  makeForProperties: () =>
    openStore({
      kind: 'sqlite',
      file: join(dir, `db-${n++}`, 'queue.db'),
      busyTimeoutMs: 100,
      thread: false,
    }),
  openAgain: (store) => open(files.get(store)!),
  holdWriteLock: async (store) => {
    const other = new Database(files.get(store)!);
    other.exec('BEGIN IMMEDIATE');
    return async () => {
      other.exec('COMMIT');
      other.close();
    };
  },
});

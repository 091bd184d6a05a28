import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';
import { runStoreConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'comfy-queue-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const files = new WeakMap<JobStore, string>();
let n = 0;

async function open(file: string): Promise<JobStore> {
  const store = await openStore({ kind: 'sqlite', file });
  files.set(store, file);
  return store;
}

runStoreConformance('sqlite', () => open(join(dir, `db-${n++}`, 'queue.db')), {
  openAgain: (store) => open(files.get(store)!),
});

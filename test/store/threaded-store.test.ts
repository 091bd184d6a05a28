/**
 * The SQLite store with its writes on a thread of their own and its reads on
 * a read-only connection here (store/sqlite/threaded-store.ts). The
 * conformance suite (sqlite.test.ts) runs through it; these are the seams the
 * suite does not reach: a batch template the reader cached is dropped when
 * the thread renames or deletes the batch, an error from the thread keeps
 * its code, and the thread's log lines reach the server's logger.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { buildBatchSpec } from '../../src/domain/batch-spec.js';
import { QueueError } from '../../src/domain/errors.js';
import { itemIds } from '../../src/domain/ids.js';
import type { PromptGraph } from '../../src/domain/job.js';
import { createLogger } from '../../src/logging/logger.js';
import { openStore } from '../../src/store/open-store.js';
import { newJob } from './conformance/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'comfy-queue-threaded-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const graph: PromptGraph = {
  '3': { class_type: 'KSampler', inputs: { seed: 1, cfg: 7, steps: 20 } },
  '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
};

function batch(name: string) {
  return {
    name,
    template: graph,
    workflow: null,
    extraData: {},
    spec: buildBatchSpec({ count: 3 }, graph, 1),
    priority: 0,
    weight: 1,
    requires: [],
    clientId: null,
    createdAt: 1_000,
    ids: itemIds(1_000, randomBytes(9)),
  };
}

describe('the SQLite store on its own thread', () => {
  it('drops the reader’s cached batch template when the thread renames or deletes the batch', async () => {
    const s = await openStore({ kind: 'sqlite', file: join(dir, `db-${n++}.db`) });
    try {
      const b = await s.createBatch(batch('faces'));
      // The reader derives (and caches) the item's graph from the template...
      assert.equal((await s.batchItem(b.id, 2))!.prompt['9']!.inputs.filename_prefix, 'faces/2');
      // ...and sees the new name once the thread has committed the rename.
      await s.updateBatch(b.id, { name: 'portraits' });
      assert.equal((await s.batchItem(b.id, 2))!.prompt['9']!.inputs.filename_prefix, 'portraits/2');
      assert.equal(await s.deleteBatch(b.id), 'deleted');
      assert.equal(await s.batchItem(b.id, 2), null);
      // A batch made after it, whatever id it gets, is read with its own template.
      const c = await s.createBatch(batch('hands'));
      assert.equal((await s.batchItem(c.id, 1))!.prompt['9']!.inputs.filename_prefix, 'hands/1');
    } finally {
      await s.close();
    }
  });

  it('re-runs a batch item: the id maker, a function, is supplied by the thread', async () => {
    const s = await openStore({ kind: 'sqlite', file: join(dir, `db-${n++}.db`) });
    try {
      const b = await s.createBatch(batch('faces'));
      const job = await s.claimNext('w', 1, 2_000);
      await s.finish(job!.id, { status: 'failed', endedAt: 2_001, error: { type: 'x', message: 'boom' } });
      const again = await s.rerunBatchItems(b.id, { kind: 'failed' }, 2_002, () => 'unused');
      assert.equal(again.length, 1);
      assert.match(again[0]!.id, /^[0-9a-f-]{36}$/);
      assert.notEqual(again[0]!.id, job!.id);
      assert.equal((await s.batchItem(b.id, job!.batch!.index))?.id, again[0]!.id);
    } finally {
      await s.close();
    }
  });

  it('answers a write refused in the thread with its QueueError, and relays the thread’s log lines', async () => {
    let logged = '';
    const log = createLogger({
      level: 'info',
      json: true,
      destination: new Writable({
        write(chunk, _enc, done) {
          logged += chunk.toString();
          done();
        },
      }),
    });
    const file = join(dir, `db-${n++}.db`);
    const s = await openStore({ kind: 'sqlite', file, busyTimeoutMs: 50, log });
    const other = new Database(file);
    try {
      other.exec('BEGIN IMMEDIATE');
      const refused = await s.enqueue([newJob()]).then(
        () => null,
        (err: unknown) => err,
      );
      assert.ok(refused instanceof QueueError, `not a QueueError: ${String(refused)}`);
      assert.equal(refused.code, 'STORE_BUSY');
      assert.equal(s.health().state, 'locked');
      other.exec('COMMIT');
      assert.match(logged, /"level":50.*database is locked by another process/);
      // Nothing was kept, and writing works again.
      assert.equal((await s.counts()).pending, 0);
      const [ok] = await s.enqueue([newJob()]);
      assert.ok(ok?.ok);
      assert.equal((await s.counts()).pending, 1);
    } finally {
      other.close();
      await s.close();
    }
  });
});

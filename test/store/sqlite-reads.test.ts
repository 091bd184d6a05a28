/**
 * How the SQLite store reads jobs: the columns it selects are every stored
 * column of `jobs` (not the generated ones), and listPending's statements,
 * one per limit and offset, answer any number of sizes in run order.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import type { NewJob } from '../../src/domain/job.js';
import { openStore } from '../../src/store/open-store.js';
import { jobRowColumns } from '../../src/store/sqlite/job-row.js';
import { migrate } from '../../src/store/sqlite/migrate.js';
import { PendingStatements } from '../../src/store/sqlite/statements.js';

function newJob(i: number): NewJob {
  return {
    id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    name: null,
    prompt: { '1': { class_type: 'X', inputs: { i } } },
    workflow: null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: i % 3,
    front: false,
    createdAt: 1000 + i,
    targets: null,
    requeuedFrom: null,
  };
}

it('a job row is every stored column of jobs, and no generated one', () => {
  const db = new Database(':memory:');
  migrate(db);
  const columns = db.prepare("SELECT name, hidden FROM pragma_table_xinfo('jobs')").all() as {
    name: string;
    hidden: number;
  }[];
  const stored = columns.filter((c) => c.hidden === 0).map((c) => c.name);
  const generated = columns.filter((c) => c.hidden !== 0).map((c) => c.name);
  assert.ok(generated.includes('workflow_id') && generated.includes('duration'));
  assert.deepEqual(jobRowColumns().split(', ').sort(), stored.sort());
  db.close();
});

it('listPending answers more sizes than it keeps statements for, each in run order', async () => {
  const store = await openStore({ kind: 'sqlite', file: ':memory:' });
  try {
    await store.enqueue(Array.from({ length: 60 }, (_, i) => newJob(i)));
    const all = await store.listPending(1000);
    assert.equal(all.length, 60);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.priority >= all[i]!.priority);
    for (const round of [0, 1]) {
      for (let limit = 0; limit <= 45; limit++) {
        const offset = (limit * 7 + round) % 20;
        const page = await store.listPending(limit, offset);
        assert.deepEqual(
          page.map((j) => j.id),
          all.slice(offset, offset + limit).map((j) => j.id),
        );
      }
    }
  } finally {
    await store.close();
  }
});

it('listPending refuses a size that is not a whole number, instead of writing it into SQL', () => {
  const db = new Database(':memory:');
  migrate(db);
  const statements = new PendingStatements(db);
  for (const [limit, offset] of [
    [1.5, 0],
    [-1, 0],
    [10, Number.NaN],
    [Number.POSITIVE_INFINITY, 0],
  ] as const) {
    assert.throws(() => statements.get(limit, offset), RangeError);
  }
  assert.equal(statements.get(3, 0).all().length, 0);
  db.close();
});

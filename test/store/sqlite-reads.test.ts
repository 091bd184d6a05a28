/**
 * How the SQLite store reads jobs: the columns it selects are every stored
 * column of `jobs` (not the generated ones), a row read as an array becomes
 * the same JobRow the driver's object would be, and listPending's
 * statements, one per limit and offset, answer any number of sizes in run order.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import type { NewJob } from '../../src/domain/job.js';
import { openStore } from '../../src/store/open-store.js';
import { jobRowColumns, jobRowStatement } from '../../src/store/sqlite/job-row.js';
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

it('a row read as values is the row the driver reads as an object, every column set', () => {
  const db = new Database(':memory:');
  migrate(db);
  const columns = jobRowColumns().split(', ');
  const types = new Map(
    (
      db.prepare("SELECT name, type FROM pragma_table_xinfo('jobs')").all() as {
        name: string;
        type: string;
      }[]
    ).map((c) => [c.name, c.type]),
  );
  const text = new Set(columns.filter((c) => types.get(c) === 'TEXT'));
  // A distinct value in every column, of the column's kind, so that a value in the wrong place shows.
  const values = columns.map((c, i) =>
    c === 'status' ? 'completed' : c === 'workflow' ? '{"id":"wf"}' : text.has(c) ? `${c}-${i}` : 1000 + i,
  );
  db.prepare(`INSERT INTO jobs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(
    ...values,
  );
  const sql = `SELECT ${jobRowColumns()} FROM jobs`;
  const asObject = db.prepare(sql).get();
  const asValues = jobRowStatement(db, sql).get();
  assert.deepEqual({ ...asValues }, asObject);
  assert.equal(asValues?.tracker, `tracker-${columns.indexOf('tracker')}`);
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

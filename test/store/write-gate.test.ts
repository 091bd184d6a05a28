/**
 * The write gate's patient writes: one that nothing waits on shares the
 * commit of the next write instead of paying its own, commits by itself when
 * no other write comes, and is not left behind when the store closes.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import Database from 'better-sqlite3';
import { WriteGate } from '../../src/store/sqlite/write-gate.js';

let db: Database.Database;
let insert: Database.Statement<[v: string]>;
const rows = () => (db.prepare('SELECT v FROM t ORDER BY rowid').all() as { v: string }[]).map((r) => r.v);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function gate(patientMs: number): WriteGate {
  return new WriteGate(db, { busyTimeoutMs: 1000, dataDir: null, probeMs: 1000, patientMs, now: Date.now });
}

beforeEach(() => {
  db = new Database(':memory:');
  db.exec('CREATE TABLE t (v TEXT); CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)'); // the gate's probe writes to settings
  insert = db.prepare('INSERT INTO t (v) VALUES (?)');
});
afterEach(() => db.close());

it('a patient write commits with the next write, asked for in a later turn', async () => {
  const g = gate(60_000);
  const patient = g.run(() => insert.run('thumbnail'), { patient: true });
  await turn();
  await turn();
  assert.equal(g.commits, 0, 'the patient write waited');
  const urgent = g.run(() => insert.run('finish'));
  await Promise.all([patient, urgent]);
  assert.equal(g.commits, 1, 'one commit carried both');
  assert.deepEqual(rows(), ['thumbnail', 'finish']);
  await g.close();
});

it('a patient write commits by itself when no other write comes', async () => {
  const g = gate(1);
  await g.run(() => insert.run('alone'), { patient: true });
  assert.equal(g.commits, 1);
  assert.deepEqual(rows(), ['alone']);
  await g.close();
});

it('patient writes asked for together share one commit', async () => {
  const g = gate(1);
  await Promise.all([1, 2, 3].map((n) => g.run(() => insert.run(`p${n}`), { patient: true })));
  assert.equal(g.commits, 1);
  assert.deepEqual(rows(), ['p1', 'p2', 'p3']);
  await g.close();
});

it('a patient write joins a group that is already forming', async () => {
  const g = gate(60_000);
  const urgent = g.run(() => insert.run('finish'));
  const patient = g.run(() => insert.run('thumbnail'), { patient: true });
  await Promise.all([urgent, patient]);
  assert.equal(g.commits, 1);
  await g.close();
});

it('closing commits the patient writes that wait', async () => {
  const g = gate(60_000);
  const patient = g.run(() => insert.run('last'), { patient: true });
  await g.close();
  await patient;
  assert.equal(g.commits, 1);
  assert.deepEqual(rows(), ['last']);
});

it('a patient write that throws is undone alone', async () => {
  const g = gate(60_000);
  const bad = g.run(
    () => {
      insert.run('half');
      throw new Error('no');
    },
    { patient: true },
  );
  const good = g.run(() => insert.run('finish'));
  await assert.rejects(bad, /no/);
  await good;
  assert.deepEqual(rows(), ['finish']);
  await g.close();
});

it('a write alone in its group that throws is undone, and the next one commits', async () => {
  const g = gate(60_000);
  await assert.rejects(
    g.run(() => {
      insert.run('half');
      throw new Error('no');
    }),
    /no/,
  );
  assert.equal(g.commits, 0);
  await g.run(() => insert.run('next'));
  assert.deepEqual(rows(), ['next']);
  await g.close();
});

it('four patient writes waiting commit at once, without waiting for another write', async () => {
  const g = gate(60_000);
  const writes = Array.from({ length: 4 }, (_, n) => g.run(() => insert.run(`p${n}`), { patient: true }));
  await turn();
  await turn();
  assert.equal(g.commits, 1, 'committed in the next turns, not after patientMs');
  await Promise.all(writes);
  assert.equal(rows().length, 4);
  await g.close();
});

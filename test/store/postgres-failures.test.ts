/**
 * The PostgreSQL store where the SQLite one has its disk-full and file-lock
 * cases: a connection killed under a write, a database server that stops
 * answering (a TCP relay cut in the middle), two servers migrating one new
 * database at once, sweeps on one server at a time.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import type { NewJob } from '../../src/domain/job.js';
import type { JobStore } from '../../src/store/job-store.js';
import { PostgresJobStore } from '../../src/store/postgres/postgres-store.js';
import { adminClient, freshSchema, requirePostgres, TEST_PG_URL } from '../helpers/postgres.js';

function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    name: null,
    prompt: { '1': { class_type: 'KSampler', inputs: { seed: 1 } } },
    workflow: null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: 0,
    front: false,
    createdAt: Date.now(),
    targets: null,
    requeuedFrom: null,
    ...over,
  };
}

async function open(
  url: string,
  schema: string,
  applicationName = 'comfy-queue-test',
): Promise<PostgresJobStore> {
  await requirePostgres();
  const store = new PostgresJobStore({ url, schema, applicationName, busyTimeoutMs: 30_000, probeMs: 50 });
  await store.init();
  return store;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 2_000; i++) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function rejectsWith(code: string, p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: string }).code, code, String(err));
    return true;
  });
}

test('a write whose connection is killed (pg_terminate_backend) rejects, changes nothing, and the store carries on', async () => {
  const schema = freshSchema('killed');
  const app = `cq-kill-${process.pid}`;
  const store = await open(TEST_PG_URL, schema, app);
  const admin = await adminClient();
  // pg_stat_activity is read once per transaction: the lock holder cannot watch it change.
  const watcher = await adminClient();
  try {
    const [res] = await store.enqueue([newJob()]);
    assert.ok(res?.ok);
    const id = res.job.id;
    await admin.query(`SET search_path = "${schema}"`);
    for (const write of [
      () => store.setFlagged(id, true), // one statement
      () => store.rename(id, 'renamed'), // a transaction
      () => store.enqueue([newJob()]), // a group commit
    ]) {
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE jobs IN EXCLUSIVE MODE');
      // Watched from the start: a write that failed before it reached the lock would fail the wait below.
      const refused = rejectsWith('STORE_UNAVAILABLE', write());
      // The write's backend waits for the lock; kill it there.
      const pid = await until(`${write.toString()} to wait for the lock`, async () => {
        const r = await watcher.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [app],
        );
        return r.rows[0]?.pid;
      });
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await refused;
      assert.equal(store.health().state, 'unavailable');
      await admin.query('COMMIT');
    }
    const job = await store.get(id);
    assert.equal(job?.flagged, false);
    assert.equal(job?.name, null);
    assert.equal((await store.counts()).pending, 1, 'the killed enqueue stored nothing');
    // The pool opens new connections; the probe (or the next write) puts health back.
    assert.equal((await store.setFlagged(id, true))?.flagged, true);
    assert.equal(store.health().state, 'ok');
  } finally {
    await admin.end();
    await watcher.end();
    await store.close();
  }
});

/** A TCP relay to the test database that can be cut and restored, as a network or a server restart would. */
async function relay(): Promise<{
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}> {
  const target = new URL(TEST_PG_URL);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((inbound) => {
        const outbound = net.connect(Number(target.port || 5432), target.hostname);
        for (const sock of [inbound, outbound]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => sock.destroy());
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  const url = new URL(TEST_PG_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return { url: url.toString(), cut, restore: listen, close: cut };
}

test('a database that stops answering: writes and reads reject STORE_UNAVAILABLE, never success, and the store recovers by itself', async () => {
  const schema = freshSchema('cut');
  const r = await relay();
  const store: JobStore = await open(r.url, schema);
  try {
    const [res] = await store.enqueue([newJob()]);
    assert.ok(res?.ok);
    await r.cut();
    await rejectsWith('STORE_UNAVAILABLE', store.enqueue([newJob()]));
    await rejectsWith('STORE_UNAVAILABLE', store.claimNext('w1', 1, 2));
    await rejectsWith('STORE_UNAVAILABLE', store.setSetting('paused', 'true'));
    await rejectsWith('STORE_UNAVAILABLE', store.get(res.job.id));
    assert.equal(store.health().state, 'unavailable');
    assert.match(store.health().message ?? '', /cannot be reached/);
    await r.restore();
    await until('health to come back', async () => store.health().state === 'ok');
    assert.equal(await store.getSetting('paused'), null, 'the refused write was not made');
    assert.equal((await store.counts()).pending, 1);
    assert.equal((await store.claimNext('w1', 1, 2))?.id, res.job.id);
  } finally {
    await store.close();
    await r.close();
  }
});

test('opening a store on a database server that does not answer rejects', async () => {
  const r = await relay();
  await r.cut();
  await assert.rejects(open(r.url, freshSchema('refused')), /ECONNREFUSED|connect/);
});

test('two servers opening a new database at once migrate it once', async () => {
  const schema = freshSchema('migrate');
  const stores = await Promise.all([1, 2, 3].map(() => open(TEST_PG_URL, schema)));
  const admin = await adminClient();
  try {
    const r = await admin.query<{ n: string; max: number }>(
      `SELECT count(*) AS n, max(version) AS max FROM "${schema}".schema_version`,
    );
    assert.equal(Number(r.rows[0]!.n), r.rows[0]!.max, 'one row per version: each step applied once');
    const [a] = await stores[0]!.enqueue([newJob()]);
    assert.ok(a?.ok);
    assert.equal((await stores[2]!.get(a.job.id))?.id, a.job.id);
  } finally {
    await admin.end();
    for (const s of stores) await s.close();
  }
});

test('a sweep runs on one server at a time (runExclusive)', async () => {
  const schema = freshSchema('sweep');
  const a = await open(TEST_PG_URL, schema);
  const b = await open(TEST_PG_URL, schema);
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const first = a.runExclusive('retention', async () => {
      started();
      await held;
      return 'a';
    });
    await running;
    assert.equal(await b.runExclusive('retention', async () => 'b'), null, 'skipped while another runs it');
    assert.equal(await b.runExclusive('leases', async () => 'b'), 'b', 'another sweep is not held back');
    release();
    assert.equal(await first, 'a');
    assert.equal(await b.runExclusive('retention', async () => 'b'), 'b');
  } finally {
    await a.close();
    await b.close();
  }
});

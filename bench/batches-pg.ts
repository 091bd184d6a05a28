/**
 * Batches on both stores through the JobStore interface: the time to create
 * a batch of 100,000 items (SQLite with synchronous=FULL, as served, and the
 * local PostgreSQL), and the cost of a claim in fair-share order with 1,000
 * batches pending against one batch of the same size. PostgreSQL works in a
 * schema of its own, dropped at the end. `npm run bench -- batches`.
 * BENCH_BATCH_ITEMS changes the size.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { buildBatchSpec } from '../src/domain/batch-spec.js';
import { itemIds } from '../src/domain/ids.js';
import type { PromptGraph } from '../src/domain/job.js';
import type { JobStore } from '../src/store/job-store.js';
import { openStore } from '../src/store/open-store.js';
import { t2iPrompt, tempDir } from '../test/helpers/harness.js';
import { fmt, percentile } from './lib.js';

const ITEMS = Number(process.env.BENCH_BATCH_ITEMS ?? 100_000);
const PG_URL = process.env.COMFY_QUEUE_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';
const graph = t2iPrompt(1, 0) as unknown as PromptGraph;

function batchOf(name: string, count: number) {
  return {
    name,
    template: graph,
    workflow: null,
    extraData: {},
    spec: buildBatchSpec({ count, seed: { start: 1 } }, graph, 0),
    priority: 0,
    weight: 1,
    requires: [],
    clientId: null,
    createdAt: Date.now(),
    ids: itemIds(Date.now(), randomBytes(9)),
  };
}

const data = tempDir('cq-bench-batches-pg-');
const schemas: string[] = [];
let n = 0;
const kinds: { name: string; open: () => Promise<JobStore> }[] = [
  { name: 'sqlite', open: () => openStore({ kind: 'sqlite', file: join(data.path, `s${n++}.sqlite3`) }) },
  {
    name: 'postgres',
    open: () => {
      const schema = `bench_batches_${process.pid}_${n++}`;
      schemas.push(schema);
      return openStore({ kind: 'postgres', url: PG_URL, schema });
    },
  },
];

try {
  for (const kind of kinds) {
    {
      const store = await kind.open();
      const t0 = performance.now();
      await store.createBatch(batchOf('big', ITEMS));
      const ms = performance.now() - t0;
      const pending = (await store.counts()).pending;
      console.log(`${kind.name}: ${ITEMS} items created in ${fmt(ms, 0)} ms (${pending} pending)`);
      await store.close();
    }
    for (const [label, batches, each] of [
      [`1 batch of ${ITEMS}`, 1, ITEMS],
      [`1,000 batches of ${ITEMS / 1_000}`, 1_000, ITEMS / 1_000],
    ] as const) {
      const store = await kind.open();
      for (let b = 0; b < batches; b++) await store.createBatch(batchOf(`b${b}`, each));
      const lat: number[] = [];
      const groups = new Set<number>();
      for (let i = 0; i < 1_000; i++) {
        const t = performance.now();
        const job = await store.claimNext('w', i, i + 1_000);
        lat.push(performance.now() - t);
        if (job?.batch) groups.add(job.batch.id);
      }
      lat.sort((a, b) => a - b);
      console.log(
        `${kind.name}: claim with ${label} pending: p50 ${fmt(percentile(lat, 50) * 1000, 0)} µs, ` +
          `p99 ${fmt(percentile(lat, 99) * 1000, 0)} µs (1,000 claims reached ${groups.size} batches)`,
      );
      await store.close();
    }
  }
} finally {
  data.remove();
  if (schemas.length > 0) {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  }
}

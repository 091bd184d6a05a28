/**
 * The render tracker's listing (GET /api/pqueue/tracker/jobs) over 1,000,000
 * batch items in 10 batches, on a comfy-queue in this process (SQLite, outputs
 * collected as served): page latency p50/p99 for each status filter, across
 * every batch and inside one, walking pages by cursor. Of each batch's items
 * 30% completed (half of them with their outputs stored, so half list as
 * `complete` and half as `working`), 10% failed, the rest pending; none is
 * flagged, so the `flagged` filter reads every item to find no match (the
 * worst case of a filter). BENCH_TRACKER_ITEMS changes the size,
 * BENCH_TRACKER_PAGES the pages read per case. `npm run bench -- tracker`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { buildBatchSpec } from '../src/domain/batch-spec.js';
import { itemIds } from '../src/domain/ids.js';
import type { PromptGraph } from '../src/domain/job.js';
import { SqliteJobStore } from '../src/store/sqlite/sqlite-store.js';
import { startTestServer, t2iPrompt, tempDir } from '../test/helpers/harness.js';
import { fmt, percentile, send } from './lib.js';

const ITEMS = Number(process.env.BENCH_TRACKER_ITEMS ?? 1_000_000);
const PAGES = Number(process.env.BENCH_TRACKER_PAGES ?? 50);
const BATCHES = 10;
/** a place deep inside a batch */
const FROM = Math.floor((ITEMS / BATCHES) * 0.4);
const graph = t2iPrompt(1, 0) as unknown as PromptGraph;

const data = tempDir('cq-bench-tracker-');
try {
  const file = join(data.path, 'comfy-queue.sqlite3');
  const t0 = performance.now();
  {
    const store = new SqliteJobStore({ file, synchronous: 'NORMAL' });
    await store.init();
    const now = Date.now();
    for (let b = 0; b < BATCHES; b++)
      await store.createBatch({
        name: `b${b}`,
        template: graph,
        workflow: null,
        extraData: {},
        spec: buildBatchSpec({ count: ITEMS / BATCHES, seed: { start: 1 } }, graph, 0),
        priority: 0,
        weight: 1,
        requires: [],
        clientId: null,
        createdAt: now,
        ids: itemIds(now, randomBytes(9)),
      });
    await store.close();
    // The outcomes are written directly: running a million jobs is not what is measured here. They
    // end before the server first starts, so its collector leaves them as they are.
    const db = new Database(file);
    db.exec(`BEGIN;
      UPDATE jobs SET status = 'completed', worker = 'w', started_at = ${now} - batch_index - 1000, ended_at = ${now} - batch_index,
        outputs = '{}' WHERE batch_index % 10 < 3;
      UPDATE jobs SET status = 'failed', worker = 'w', started_at = ${now} - batch_index - 1000, ended_at = ${now} - batch_index,
        error = '{"type":"x","message":"x"}' WHERE batch_index % 10 = 3;
      INSERT INTO collections (job_id, ended_at, state, target, files, attempts, error, updated_at)
        SELECT id, ended_at, 'stored', 'file:///outputs', '[]', 0, NULL, ended_at FROM jobs
        WHERE status = 'completed' AND batch_index % 20 < 3;
      COMMIT;`);
    db.close();
  }
  console.log(
    `tracker jobs: ${ITEMS} items in ${BATCHES} batches made in ${fmt((performance.now() - t0) / 1000, 1)} s`,
  );

  const server = await startTestServer({ comfyUrls: [], dataDir: data.path });
  try {
    const cases: [string, string][] = [
      ['all batches, no filter', ''],
      ['all batches, status=inactive', 'status=inactive'],
      ['all batches, status=complete', 'status=complete'],
      ['all batches, status=working', 'status=working'],
      ['all batches, status=error', 'status=error'],
      ['all batches, status=complete,error', 'status=complete,error'],
      ['batch b5, status=complete', 'batch=b5&status=complete'],
      [`batch b5, from=${FROM}, status=working`, `batch=b5&from=${FROM}&status=working`],
      ['all batches, status=flagged (no match)', 'status=flagged'],
    ];
    for (const [label, query] of cases) {
      const lat: number[] = [];
      let cursor: string | null = null;
      let rows = 0;
      const pages = query.includes('flagged') ? Math.min(PAGES, 5) : PAGES;
      for (let p = 0; p < pages; p++) {
        const url = `${server.url}/api/pqueue/tracker/jobs?limit=100${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
        const t = performance.now();
        const r = await send('GET', url);
        lat.push(performance.now() - t);
        if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.text}`);
        const body = JSON.parse(r.text) as { jobs: unknown[]; next_cursor: string | null };
        rows += body.jobs.length;
        cursor = body.next_cursor;
        if (!cursor) break;
      }
      lat.sort((a, b) => a - b);
      console.log(
        `tracker jobs, ${label}: ${lat.length} pages of 100 (${rows} items) p50 ${fmt(percentile(lat, 50), 1)} ms, ` +
          `p99 ${fmt(percentile(lat, 99), 1)} ms`,
      );
    }
  } finally {
    await server.close();
  }
} finally {
  data.remove();
}

/**
 * /api/jobs paging (property): walking every page by keyset cursor returns
 * every job exactly once, in the requested order, in both directions, with
 * many jobs sharing one create_time, while jobs are being added meanwhile.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.js';
import type { JobStatus, NewJob } from '../../src/domain/job.js';
import type { JobSort } from '../../src/store/job-query.js';
import { storeKinds } from './store-kinds.js';

function newJob(i: number, createdAt: number): NewJob {
  const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  return {
    id,
    name: null,
    prompt: { '1': { class_type: 'X', inputs: {} } },
    workflow: i % 3 === 0 ? { id: 'wf-a' } : null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: 0,
    front: false,
    createdAt,
    targets: null,
    requeuedFrom: null,
  };
}

const FINISH: ('failed' | 'cancelled')[] = ['failed', 'cancelled'];

for (const kind of storeKinds('list_jobs_property')) {
  describe(kind.name, () => {
    test('cursor walk: every job exactly once, in order, both directions, ties, concurrent adds', async () => {
      const stores = kind.series();
      after(() => stores.end());
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 60 }), // create_time buckets: many ties
          fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 60, maxLength: 60 }), // status per job
          fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
          fc.integer({ min: 1, max: 7 }),
          fc.subarray<JobStatus>(['pending', 'failed', 'cancelled']),
          fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 10 }), // jobs added between pages
          fc.boolean(),
          async (times, statusOf, order, limit, filter, added, byWorkflow) => {
            const store = await stores.next();
            {
              let n = 0;
              await store.enqueue(times.map((t) => newJob(n++, 1000 + t)));
              for (let i = 0; i < times.length; i++) {
                const s = statusOf[i]!;
                if (s > 0) {
                  const id = newJob(i, 0).id;
                  await store.finishPending(id, { status: FINISH[s - 1]!, endedAt: 5000 });
                }
              }
              const query = {
                statuses: filter,
                workflowId: byWorkflow ? 'wf-a' : null,
                sort: 'created_at' as JobSort,
                order,
                limit,
              };
              const before = (await store.listJobs({ ...query, limit: null })).jobs;
              const seen: { id: string; createdAt: number }[] = [];
              let cursor: string | null = null;
              let pages = 0;
              for (;;) {
                const after = cursor ? decodeCursor(cursor, ['created_at'], order) : null;
                const page = await store.listJobs({
                  ...query,
                  after: after && { value: after.value, id: after.id },
                });
                assert.ok(page.jobs.length <= limit);
                seen.push(...page.jobs);
                if (!page.hasMore) {
                  assert.equal(page.nextCursor, null);
                  break;
                }
                cursor = encodeCursor({ sort: 'created_at', order, ...page.nextCursor! });
                // jobs arrive while the client pages: some before, some after the cursor
                const t = added[pages];
                if (t !== undefined) await store.enqueue([newJob(n++, 1000 + t)]);
                if (++pages > 500) assert.fail('the walk does not end');
              }
              const ids = seen.map((j) => j.id);
              assert.equal(new Set(ids).size, ids.length, 'a job was returned twice');
              for (const j of before) assert.ok(ids.includes(j.id), `job ${j.id} was skipped`);
              const sign = order === 'asc' ? 1 : -1;
              for (let i = 1; i < seen.length; i++) {
                const a = seen[i - 1]!;
                const b = seen[i]!;
                const cmp = a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);
                assert.ok(sign * cmp < 0, `out of order at ${i}`);
              }
            }
          },
        ),
        { numRuns: 150 },
      );
    });

    test('duration and completion-time sorts: every status, ties, cursor walk against the full sort', async () => {
      const stores = kind.series();
      after(() => stores.end());
      // 0 pending, 1 running, 2 completed after a run, 3 failed before it ran, 4 cancelled after a run
      const state = fc.record({ s: fc.integer({ min: 0, max: 4 }), ran: fc.integer({ min: 0, max: 3 }) });
      await fc.assert(
        fc.asyncProperty(
          fc.array(state, { maxLength: 40 }),
          fc.constantFrom<JobSort>('execution_duration', 'ended_at'),
          fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
          fc.integer({ min: 1, max: 7 }),
          fc.subarray<JobStatus>(['pending', 'in_progress', 'completed', 'failed', 'cancelled']),
          async (jobs, sort, order, limit, filter) => {
            const store = await stores.next();
            {
              await store.enqueue(jobs.map((_, i) => newJob(i, 1000 + (i % 3))));
              const expected: { id: string; status: JobStatus; key: number }[] = [];
              for (const [i, { s, ran }] of jobs.entries()) {
                const id = newJob(i, 0).id;
                const ended = 5000 + (i % 4); // ties in completion time
                if (s === 0) expected.push({ id, status: 'pending', key: 0 });
                if (s === 3) {
                  await store.finishPending(id, { status: 'failed', endedAt: ended });
                  expected.push({ id, status: 'failed', key: sort === 'ended_at' ? ended : 0 });
                }
                if (s === 1 || s === 2 || s === 4) {
                  await store.claimJob(id, 'w1', ended - 10 * ran, ended + 60_000);
                  if (s === 1) {
                    expected.push({ id, status: 'in_progress', key: 0 });
                    continue;
                  }
                  const status = s === 2 ? 'completed' : 'cancelled';
                  await store.finish(id, { status, endedAt: ended });
                  expected.push({ id, status, key: sort === 'ended_at' ? ended : 10 * ran });
                }
              }
              const statuses = filter.length ? filter : undefined; // none: every status
              const want = expected
                .filter((j) => statuses === undefined || statuses.includes(j.status))
                .filter(
                  (j) => sort !== 'ended_at' || ['completed', 'failed', 'cancelled'].includes(j.status),
                );
              const sign = order === 'asc' ? 1 : -1;
              want.sort((a, b) => sign * (a.key - b.key || (a.id < b.id ? -1 : 1)));
              const seen: string[] = [];
              let cursor: string | null = null;
              for (let pages = 0; ; pages++) {
                const at = cursor ? decodeCursor(cursor, [sort], order) : null;
                const page = await store.listJobs({
                  statuses,
                  sort,
                  order,
                  limit,
                  after: at && { value: at.value, id: at.id },
                });
                seen.push(...page.jobs.map((j) => j.id));
                if (!page.hasMore) break;
                cursor = encodeCursor({ sort, order, ...page.nextCursor! });
                if (pages > 100) assert.fail('the walk does not end');
              }
              assert.deepEqual(
                seen,
                want.map((j) => j.id),
              );
            }
          },
        ),
        { numRuns: 100 },
      );
    });

    test('offset pages and totals agree with the full listing, for both sorts', async () => {
      const stores = kind.series();
      after(() => stores.end());
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })), {
            maxLength: 40,
          }),
          fc.constantFrom<JobSort>('created_at', 'execution_duration'),
          fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
          fc.integer({ min: 1, max: 9 }),
          async (rows, sort, order, limit) => {
            const store = await stores.next();
            {
              await store.enqueue(rows.map(([t], i) => newJob(i, 1000 + t)));
              for (const [i, [, s]] of rows.entries()) {
                if (s > 0)
                  await store.finishPending(newJob(i, 0).id, { status: FINISH[s - 1]!, endedAt: 5000 + i });
              }
              const all = await store.listJobs({ sort, order, limit: null });
              assert.equal(all.total, rows.length);
              const walked: string[] = [];
              for (let offset = 0; offset < rows.length + limit; offset += limit) {
                const p = await store.listJobs({ sort, order, limit, offset });
                assert.equal(p.total, rows.length);
                assert.equal(p.hasMore, offset + p.jobs.length < rows.length);
                walked.push(...p.jobs.map((j) => j.id));
              }
              assert.deepEqual(
                walked,
                all.jobs.map((j) => j.id),
              );
            }
          },
        ),
        { numRuns: 80 },
      );
    });
  });
}

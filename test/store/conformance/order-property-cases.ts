import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { NewJob } from '../../../src/domain/job.js';
import type { JobStore } from '../../../src/store/job-store.js';
import { newJob, type StoreFactory, withStore } from './harness.js';
import { type AppendRule, OrderModel } from './order-model.js';

const priority = fc.integer({ min: -1, max: 2 });
const pick = fc.nat(1000);
const jobSpec = fc.record({
  id: fc.uuid(),
  priority,
  front: fc.boolean(),
  createdAt: fc.integer({ min: 0, max: 3 }),
  dup: fc.option(pick, { freq: 5 }),
});

const op = fc.oneof(
  {
    arbitrary: fc.record({
      k: fc.constant('enqueue' as const),
      calls: fc.array(fc.array(jobSpec, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ k: fc.constant('priority' as const), pick, priority }), weight: 2 },
  {
    arbitrary: fc.record({ k: fc.constant('reorder' as const), picks: fc.array(pick, { maxLength: 5 }) }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ k: fc.constant('claim' as const), exclude: fc.array(pick, { maxLength: 2 }) }),
    weight: 2,
  },
  { arbitrary: fc.record({ k: fc.constant('release' as const), pick }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('cancel' as const), pick }), weight: 1 },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function apply(s: JobStore, m: OrderModel, o: Op, ids: string[]): Promise<void> {
  const at = (n: number) => ids[n % Math.max(ids.length, 1)] ?? 'no-such-id';
  switch (o.k) {
    case 'enqueue': {
      // Random ids sort apart from arrival order, so id tie-breaks get exercised;
      // `dup` reuses an id stored earlier or sent earlier in this same batch.
      const sent: string[] = [...ids];
      const calls: NewJob[][] = o.calls.map((call) =>
        call.map((spec) => {
          const id = spec.dup !== null && sent.length ? sent[spec.dup % sent.length]! : spec.id;
          sent.push(id);
          return newJob({ id, priority: spec.priority, front: spec.front, createdAt: spec.createdAt });
        }),
      );
      const results = await Promise.all(calls.map((jobs) => s.enqueue(jobs)));
      calls.flat().forEach((job, i) => {
        const r = results.flat()[i]!;
        assert.equal(r.ok, m.enqueue(job), 'duplicate detection');
        if (r.ok) {
          ids.push(job.id);
          const sameP = m.pending().filter((j) => j.priority === job.priority);
          if (job.front) assert.equal(sameP[0]?.id, job.id, 'front job first of its priority');
          else assert.equal(sameP.at(-1)?.id, job.id, 'normal job last of its priority');
        }
      });
      return;
    }
    case 'priority':
      assert.equal(
        (await s.setPriority(at(o.pick), o.priority)) !== null,
        m.setPriority(at(o.pick), o.priority),
      );
      return;
    case 'reorder': {
      const list = o.picks.map(at);
      assert.equal(await s.reorder(list), m.reorder(list));
      return;
    }
    case 'claim': {
      const exclude = o.exclude.map(at);
      assert.equal((await s.claimNext('w', 1, 2, exclude))?.id ?? null, m.claim(exclude));
      return;
    }
    case 'release':
      assert.equal((await s.release(at(o.pick))) !== null, m.setStatus(at(o.pick), 'in_progress', 'pending'));
      return;
    case 'cancel': {
      const done = await s.finishPending(at(o.pick), { status: 'cancelled', endedAt: 1 });
      assert.equal(done !== null, m.setStatus(at(o.pick), 'pending', 'cancelled'));
      return;
    }
  }
}

export function orderPropertyCases(f: StoreFactory, numRuns: number, append: AppendRule = 'after-max'): void {
  it('keeps the same pending order and positions as the model through random edits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) =>
        withStore(f, async (s) => {
          const m = new OrderModel(append);
          const ids: string[] = [];
          for (const o of ops) {
            await apply(s, m, o, ids);
            const got = (await s.listPending(1_000_000)).map((j) => [j.id, j.position]);
            assert.deepEqual(
              got,
              m.pending().map((j) => [j.id, j.position]),
            );
          }
        }),
      ),
      { numRuns },
    );
  });

  it('puts reordered jobs first within their priority, in the order given', async () => {
    const shape = fc.record({
      jobs: fc.uniqueArray(
        fc.record({ id: fc.uuid(), priority: fc.integer({ min: 0, max: 2 }), front: fc.boolean() }),
        {
          minLength: 1,
          maxLength: 12,
          selector: (j) => j.id,
        },
      ),
      picks: fc.array(pick, { maxLength: 8 }),
    });
    await fc.assert(
      fc.asyncProperty(shape, ({ jobs, picks }) =>
        withStore(f, async (s) => {
          await s.enqueue(jobs.map((j) => newJob(j)));
          const listed = [...new Set(picks.map((n) => jobs[n % jobs.length]!.id))];
          await s.reorder(listed);
          const pending = await s.listPending(1_000);
          for (const p of new Set(jobs.map((j) => j.priority))) {
            const ofP = pending.filter((j) => j.priority === p).map((j) => j.id);
            const listedOfP = listed.filter((id) => ofP.includes(id));
            assert.deepEqual(ofP.slice(0, listedOfP.length), listedOfP);
          }
        }),
      ),
      { numRuns },
    );
  });
}

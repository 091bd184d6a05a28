/**
 * A wake-up that lands while the scheduler's loop is finishing (after its last
 * look at the queue, before it says it is done) must not strand the job until
 * the periodic tick: the tick is made too long to help here, and the wake-up
 * is moved across every point of that window in turn.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { PromptGraph } from '../../src/domain/job.js';
import { Engine } from '../../src/engine/engine.js';
import { MemoryEventBus } from '../../src/engine/events.js';
import { buildNewJob } from '../../src/engine/new-job.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';
import { WorkerDriver } from '../../src/workers/driver.js';
import { t2iPrompt, tempDir, until } from '../helpers/harness.js';

/** The store, except that a listPending can be made to run `hook` after its read and before it answers. */
function withListHook(store: JobStore): { store: JobStore; setHook(h: () => Promise<void>): void } {
  let hook: (() => Promise<void>) | null = null;
  const wrapped = new Proxy(store, {
    get(target, prop) {
      if (prop === 'listPending') {
        return async (limit: number, offset?: number) => {
          const rows = await target.listPending(limit, offset);
          const h = hook;
          hook = null;
          if (h) await h();
          return rows; // read before the hook's enqueue: the new job is not among them
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { store: wrapped, setHook: (h) => (hook = h) };
}

const dir = tempDir('cq-wakeup-');
let sim: RunningSimulator | null = null;
let engine: Engine | null = null;
let inner: JobStore | null = null;
after(async () => {
  await engine?.stop();
  await inner?.close();
  await sim?.close();
  dir.remove();
});

test('a job enqueued while the pump loop is finishing still runs, wherever the wake-up lands', async () => {
  sim = await startSimulator({ stepMs: 0 });
  inner = await openStore({ kind: 'sqlite', file: join(dir.path, 'q.sqlite3') });
  const { store, setHook } = withListHook(inner);
  const bus = new MemoryEventBus();
  const e = new Engine(store, bus, {
    now: Date.now,
    newId: randomUUID,
    leaseMs: 60_000,
    maxAttempts: 5,
    tickMs: 3_600_000, // never within this test: only wake-ups dispatch
  });
  engine = e;
  const driver = new WorkerDriver('w1', sim.url, `cq-test-${randomUUID()}`, e, {
    capacity: 4,
    offlineTimeoutMs: 60_000,
    pollMs: 100,
    now: Date.now,
  });
  let online = false;
  bus.subscribe((ev) => {
    if (ev.type === 'worker.state' && ev.state === 'online') online = true;
  });
  await e.start([driver]);
  await until(async () => (online ? true : undefined), 'the worker online');

  // The wake-up (the pump() an enqueue makes once its commit is done) comes this many microtasks
  // after the scheduler's read of the queue returned: before, inside and after the loop's end.
  for (let depth = 0; depth <= 24; depth++) {
    const job = buildNewJob({ prompt: t2iPrompt(1, depth) as PromptGraph }, Date.now(), randomUUID);
    setHook(async () => {
      const [r] = await inner!.enqueue([job]);
      assert.equal(r?.ok, true);
      let n = depth;
      const later = () => (n-- > 0 ? queueMicrotask(later) : e.pump());
      queueMicrotask(later);
    });
    e.pump();
    const done = await until(async () => {
      const j = await inner!.get(job.id);
      return j?.status === 'completed' || j?.status === 'failed' ? j : undefined;
    }, `the job woken ${depth} microtasks after the read to run`);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
  }
});

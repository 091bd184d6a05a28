import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Job, NewJob } from '../../../src/domain/job.js';
import type { JobStore } from '../../../src/store/job-store.js';

/** How the conformance suite gets stores from an adapter. */
export interface StoreFactory {
  /** a new, empty, initialised store */
  make: () => Promise<JobStore>;
  /** a second store on the same database as `store` (which may be closed by then) */
  openAgain: (store: JobStore) => Promise<JobStore>;
  /**
   * Takes the database's write lock from another connection, as another
   * process would, and answers its release. Stores from `make` wait only
   * briefly for a lock (their busy timeout is short).
   */
  holdWriteLock: (store: JobStore) => Promise<() => Promise<void>>;
}

let clock = 1_700_000_000_000;

export function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    name: null,
    prompt: { '3': { class_type: 'KSampler', inputs: { seed: 42, steps: 20 } } },
    workflow: null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: 0,
    front: false,
    createdAt: clock++,
    targets: null,
    requeuedFrom: null,
    ...over,
  };
}

/** Enqueues in one call and answers the stored jobs, failing on any refusal. */
export async function enqueueOk(store: JobStore, ...jobs: NewJob[]): Promise<Job[]> {
  const res = await store.enqueue(jobs);
  return res.map((r) => {
    assert.ok(r.ok, `enqueue refused ${JSON.stringify(r)}`);
    return r.job;
  });
}

export async function pendingIds(store: JobStore): Promise<string[]> {
  return (await store.listPending(1_000_000)).map((j) => j.id);
}

/** Runs `fn` on a fresh store and always closes it. */
export async function withStore(
  factory: StoreFactory,
  fn: (store: JobStore) => Promise<void>,
): Promise<void> {
  const store = await factory.make();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** Claims jobs until `id` is the one taken (to put a known job in_progress). */
export async function claimId(store: JobStore, id: string, worker = 'w1', now = 1000): Promise<Job> {
  const others = (await store.listPending(1_000_000)).map((j) => j.id).filter((x) => x !== id);
  const job = await store.claimNext(worker, now, now + 60_000, others);
  assert.equal(job?.id, id);
  return job!;
}

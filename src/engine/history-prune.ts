/**
 * Deleting history in small batches: each batch is one listing page and one
 * DELETE (thumbnails and search text go with the jobs, by trigger), and the
 * event loop gets a turn between batches, so that deleting a million jobs
 * never holds up a request for long. Only finished jobs are ever deleted here.
 */
import { FINISHED_STATUSES, type JobStatus } from '../domain/job.js';
import type { JobQuery } from '../store/job-query.js';
import type { JobStore } from '../store/job-store.js';
import type { EventBus } from './events.js';

export const PRUNE_BATCH = 500;

/** Finished statuses among `statuses` (all finished ones when absent or empty). */
export function historyStatuses(statuses: readonly JobStatus[] | undefined): JobStatus[] {
  return statuses?.length ? statuses.filter((s) => FINISHED_STATUSES.includes(s)) : [...FINISHED_STATUSES];
}

/** Deletes up to `batch` finished jobs matching `query` (its sort decides which go first); resolves their ids. */
export async function deleteHistoryBatch(
  store: JobStore,
  bus: EventBus,
  query: JobQuery,
  batch = PRUNE_BATCH,
): Promise<string[]> {
  const statuses = historyStatuses(query.statuses);
  if (statuses.length === 0) return [];
  const page = await store.listJobs({
    ...query,
    statuses,
    limit: batch,
    offset: 0,
    after: null,
    countTotal: false,
  });
  if (page.jobs.length === 0) return [];
  const deleted = await store.delete(
    page.jobs.map((j) => j.id),
    FINISHED_STATUSES,
  );
  if (deleted.length) bus.publish({ type: 'job.deleted', ids: deleted });
  return deleted;
}

/** Deletes every finished job matching `query`, batch by batch; resolves how many went. */
export async function deleteHistory(
  store: JobStore,
  bus: EventBus,
  query: JobQuery,
  batch = PRUNE_BATCH,
): Promise<number> {
  let total = 0;
  for (;;) {
    const ids = await deleteHistoryBatch(store, bus, query, batch);
    total += ids.length;
    if (ids.length < batch) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

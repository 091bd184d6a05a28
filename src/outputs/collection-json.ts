/**
 * A job's `collection` field in the API. Pure.
 * - null: the job has not completed (nothing to collect);
 * - `off`: not collected — collection is off, or the job completed before it was turned on;
 * - `pending`: being copied (or waiting for a retry: `error` says why);
 * - `stored`: every output file is in the folder or bucket (`files`);
 * - `failed`: given up (`error`).
 */
import type { Job } from '../domain/job.js';
import type { CollectionRecord } from '../store/job-store.js';

export interface CollectionJson {
  state: 'pending' | 'stored' | 'failed' | 'off';
  /** the folder (`file:///…`) or bucket (`s3://…`) */
  target: string | null;
  /** the stored files, numbered from 1 as GET /api/pqueue/jobs/{id}/outputs/{n} serves them */
  files: { n: number; key: string; bytes: number }[];
  attempts: number;
  error: string | null;
}

/** `collecting`: when collection runs, since when (ms) and where; null when it is off. */
export function collectionJson(
  job: Pick<Job, 'status' | 'endedAt'>,
  record: CollectionRecord | null,
  collecting: { since: number; target: string } | null,
): CollectionJson | null {
  if (job.status !== 'completed' || job.endedAt === null) return null;
  if (record && record.endedAt === job.endedAt) {
    return {
      state: record.state,
      target: record.target,
      files: record.files.map((f, i) => ({ n: i + 1, key: f.key, bytes: f.bytes })),
      attempts: record.attempts,
      error: record.error,
    };
  }
  if (collecting && job.endedAt >= collecting.since) {
    return { state: 'pending', target: collecting.target, files: [], attempts: 0, error: null };
  }
  return { state: 'off', target: null, files: [], attempts: 0, error: null };
}

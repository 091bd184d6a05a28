/**
 * Rows of the PostgreSQL `jobs` table ↔ `Job`: the same columns as on SQLite
 * (JSON documents as text), `flagged` a boolean, bigint read as numbers.
 */
import { type Job, type NewJob, workflowIdOf } from '../../domain/job.js';
import { jobSearchText, searchWords } from '../../domain/search-text.js';
import {
  type BatchResolver,
  type InsertParams,
  insertParams,
  type JobRow,
  rowToJob,
} from '../sqlite/job-row.js';

/** The columns a Job is made of (not the search words, nor the listing's derived columns). */
export const JOB_COLUMNS = `id, name, prompt, workflow, extra_data, sensitive, client_id, priority, position, status,
  created_at, started_at, ended_at, worker, attempts, error, outputs, lease_until, targets, flagged,
  requeued_from, requires, retries, batch_id, batch_index, batch_past, owner, fair, held, tracker`;

export type PgJobRow = Omit<JobRow, 'flagged' | 'held'> & { flagged: boolean; held?: boolean };

/** A row as a Job; a batch's item with its graph derived from its batch (batches.ts). */
export function pgRowToJob(r: PgJobRow, resolve?: BatchResolver): Job {
  return rowToJob({ ...r, flagged: r.flagged ? 1 : 0, held: r.held ? 1 : 0 }, resolve);
}

export function toJobOrNull(rows: readonly PgJobRow[], resolve?: BatchResolver): Job | null {
  return rows[0] ? pgRowToJob(rows[0], resolve) : null;
}

/** A new job ready for the INSERT: serialised outside the transaction, so one that cannot be fails alone. */
export interface PgInsert extends InsertParams {
  workflow_id: string | null;
  /** its search words, space-separated (words hold no space) */
  words: string;
}

export function pgInsertParams(job: NewJob): PgInsert {
  return {
    ...insertParams(job),
    workflow_id: workflowIdOf(job),
    words: searchWords(jobSearchText(job.name, job.prompt)).join(' '),
  };
}

/** The search words of a stored job (after a rename). */
export function wordsOf(job: Job): string {
  return searchWords(jobSearchText(job.name, job.prompt)).join(' ');
}

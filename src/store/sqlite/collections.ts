/** The collections table (migration 0008) on SQLite: where each completed job's outputs were copied. */
import type Database from 'better-sqlite3';
import type { Job } from '../../domain/job.js';
import type { CollectionRecord } from '../job-store.js';
import { type CollectionRow, rowToCollection } from '../record-rows.js';
import { type JobRow, jobRowColumns } from './job-row.js';

export class SqliteCollections {
  private readonly s;

  constructor(
    db: Database.Database,
    /** a row as a Job (a batch item's graph derived from its batch) */
    private readonly toJob: (row: JobRow) => Job,
  ) {
    this.s = {
      // Walks jobs_status_ended; the probe per row is on the collections primary key.
      uncollected: db.prepare<
        { since: number; after_ended: number | null; after_id: string; limit: number },
        JobRow
      >(
        `SELECT ${jobRowColumns('j.')} FROM jobs j
         WHERE j.status = 'completed' AND j.ended_at >= @since
           AND (@after_ended IS NULL OR (j.ended_at, j.id) > (@after_ended, @after_id))
           AND NOT EXISTS (SELECT 1 FROM collections c
                           WHERE c.job_id = j.id AND c.ended_at = j.ended_at AND c.state <> 'pending')
         ORDER BY j.ended_at, j.id LIMIT @limit`,
      ),
      get: db.prepare<[string], CollectionRow>(
        'SELECT * FROM collections WHERE job_id IN (SELECT value FROM json_each(?))',
      ),
      save: db.prepare<CollectionRow>(
        `INSERT INTO collections (job_id, ended_at, state, target, files, attempts, error, updated_at)
         SELECT @job_id, @ended_at, @state, @target, @files, @attempts, @error, @updated_at
         WHERE EXISTS (SELECT 1 FROM jobs WHERE id = @job_id AND status = 'completed' AND ended_at = @ended_at)
         ON CONFLICT (job_id) DO UPDATE SET ended_at = excluded.ended_at, state = excluded.state,
           target = excluded.target, files = excluded.files, attempts = excluded.attempts,
           error = excluded.error, updated_at = excluded.updated_at`,
      ),
    };
  }

  uncollected(since: number, after: { endedAt: number; id: string } | null, limit: number): Job[] {
    return this.s.uncollected
      .all({
        since,
        after_ended: after?.endedAt ?? null,
        after_id: after?.id ?? '',
        limit: Math.max(0, Math.trunc(limit)),
      })
      .map(this.toJob);
  }

  get(jobIds: readonly string[]): CollectionRecord[] {
    if (jobIds.length === 0) return [];
    return this.s.get.all(JSON.stringify(jobIds)).map(rowToCollection);
  }

  save(r: CollectionRecord): boolean {
    return (
      this.s.save.run({
        job_id: r.jobId,
        ended_at: r.endedAt,
        state: r.state,
        target: r.target,
        files: JSON.stringify(r.files),
        attempts: r.attempts,
        error: r.error,
        updated_at: r.updatedAt,
      }).changes > 0
    );
  }
}

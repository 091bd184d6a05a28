/**
 * The text index of history search (jobs_fts, migration 0004) on SQLite:
 * each job's search text (src/domain/search-text.ts) under the rowid of its
 * jobs row. Written in the same transaction as the job itself; jobs stored
 * before the index existed are indexed once, at open, in batches.
 */
import type Database from 'better-sqlite3';
import type { PromptGraph } from '../../domain/job.js';
import { jobSearchText } from '../../domain/search-text.js';

/**
 * The search text of a stored row, or null for a batch's item, which stores
 * no graph and has no text row (batches.ts).
 */
export function storedSearchText(row: { name: string | null; prompt: string }): string | null {
  return row.prompt === '' ? null : jobSearchText(row.name, JSON.parse(row.prompt) as PromptGraph);
}

/** Settings key: present once every job stored before migration 0004 is indexed. */
const READY_KEY = 'search_index_ready';
const BATCH = 2_000;

export class SearchIndex {
  private readonly insert: Database.Statement<[rowid: number | bigint, text: string]>;
  private readonly remove: Database.Statement<[rowid: number | bigint]>;
  private readonly rowidOf: Database.Statement<
    [id: string],
    { rowid: number; name: string | null; prompt: string }
  >;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare('INSERT INTO jobs_fts (rowid, text) VALUES (?, ?)');
    this.remove = db.prepare('DELETE FROM jobs_fts WHERE rowid = ?');
    this.rowidOf = db.prepare('SELECT rowid, name, prompt FROM jobs WHERE id = ?');
  }

  /** Indexes a job just inserted (inside the caller's transaction). */
  add(rowid: number | bigint, text: string): void {
    this.insert.run(rowid, text);
  }

  /** Re-indexes a job whose name changed (inside the caller's transaction). */
  reindex(id: string): void {
    const row = this.rowidOf.get(id);
    const text = row ? storedSearchText(row) : null;
    if (!row || text === null) return;
    this.remove.run(row.rowid);
    this.insert.run(row.rowid, text);
  }

  /**
   * Indexes every job stored before the index existed, BATCH per transaction,
   * resuming after a crash from the last committed batch. A database created
   * with the index has nothing to do.
   */
  backfill(): void {
    const db = this.db;
    const get = db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?');
    const set = db.prepare<[string, string]>(
      `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
    if (get.get(READY_KEY)) return;
    const progressKey = `${READY_KEY}_through`;
    const page = db.prepare<[number, number], { rowid: number; name: string | null; prompt: string }>(
      'SELECT rowid, name, prompt FROM jobs WHERE rowid > ? ORDER BY rowid LIMIT ?',
    );
    const step = db.transaction((after: number): number => {
      const rows = page.all(after, BATCH);
      for (const r of rows) {
        const text = storedSearchText(r);
        if (text !== null) this.insert.run(r.rowid, text);
      }
      const last = rows.length ? rows[rows.length - 1]!.rowid : after;
      if (rows.length < BATCH) set.run(READY_KEY, '1');
      else set.run(progressKey, String(last));
      return rows.length;
    });
    let after = Number(get.get(progressKey)?.value ?? 0);
    for (;;) {
      const n = step.immediate(after);
      if (n < BATCH) return;
      after = Number(get.get(progressKey)!.value);
    }
  }
}

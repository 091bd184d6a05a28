/**
 * 0004: history search and filters. `jobs_fts` is a contentless FTS5 index
 * keyed on the jobs table's rowid: the store writes each job's search text
 * (src/domain/search-text.ts) when it enqueues or renames it, and the trigger
 * below removes it with the job. Contentless, so the prompt text is not
 * stored twice; `contentless_delete` lets a row be removed by rowid alone.
 * Jobs stored before this migration are indexed by the store once, at open
 * (search-index.ts). Flagged jobs are few: a partial index lists them in
 * order without walking all history; a worker's jobs have their own index.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE VIRTUAL TABLE jobs_fts USING fts5(
  text,
  content = '',
  contentless_delete = 1,
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'
);

CREATE TRIGGER jobs_fts_delete AFTER DELETE ON jobs BEGIN
  DELETE FROM jobs_fts WHERE rowid = old.rowid;
END;

CREATE INDEX jobs_flagged ON jobs (status, created_at, id) WHERE flagged = 1;
-- A worker's history in order: walking the status index for one worker's rows
-- would read every row of a status that worker never produced.
CREATE INDEX jobs_worker_created ON jobs (worker, status, created_at, id);
`;

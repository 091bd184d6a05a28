/**
 * 0008: collected outputs. One row per job whose output files were copied to
 * the collect folder or bucket, or are being: `ended_at` names the completion
 * the row belongs to, so a job that runs again (and ends again) is collected
 * again. A completed job without a row of its completion is waiting to be
 * collected; the collector finds those with the keyset index on
 * (status, ended_at, id) of 0002. A job's row goes with the job; the collected
 * files stay where they are.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE collections (
  job_id     TEXT PRIMARY KEY,
  ended_at   INTEGER NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('pending', 'stored', 'failed')),
  target     TEXT NOT NULL,
  files      TEXT NOT NULL DEFAULT '[]',
  attempts   INTEGER NOT NULL DEFAULT 0,
  error      TEXT,
  updated_at INTEGER NOT NULL
);

CREATE TRIGGER jobs_collection_delete AFTER DELETE ON jobs BEGIN
  DELETE FROM collections WHERE job_id = old.id;
END;
`;

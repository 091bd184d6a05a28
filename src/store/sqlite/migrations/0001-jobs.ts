/**
 * 0001: the jobs table, its indexes, per-status counters and the settings table.
 * Append-only: never edit a migration that has shipped; add 0002-… instead.
 */
export const sql = `
CREATE TABLE jobs (
  id            TEXT PRIMARY KEY,
  name          TEXT,
  prompt        TEXT NOT NULL,
  workflow      TEXT,
  extra_data    TEXT NOT NULL,
  sensitive     TEXT,
  client_id     TEXT,
  priority      INTEGER NOT NULL DEFAULT 0,
  position      INTEGER NOT NULL,
  status        TEXT NOT NULL
                CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
  created_at    INTEGER NOT NULL,
  started_at    INTEGER,
  ended_at      INTEGER,
  worker        TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  error         TEXT,
  outputs       TEXT,
  lease_until   INTEGER,
  targets       TEXT,
  flagged       INTEGER NOT NULL DEFAULT 0,
  requeued_from TEXT
);

-- Run order of the queue; partial, so it stays as small as the queue itself.
CREATE INDEX jobs_pending_order ON jobs (priority DESC, position, created_at, id)
  WHERE status = 'pending';
-- max(position) for a new job's place, in O(log n).
CREATE INDEX jobs_position ON jobs (position);
CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
CREATE INDEX jobs_worker_status ON jobs (worker, status);

-- Counts per status kept by triggers: clients poll the queue size often and
-- counting a million finished rows on each poll would not stay cheap.
CREATE TABLE job_counts (
  status TEXT PRIMARY KEY,
  n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO job_counts (status, n) VALUES
  ('pending', 0), ('in_progress', 0), ('completed', 0), ('failed', 0), ('cancelled', 0);

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
  UPDATE job_counts SET n = n + 1 WHERE status = new.status;
END;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
  UPDATE job_counts SET n = n - 1 WHERE status = old.status;
END;
CREATE TRIGGER jobs_count_status AFTER UPDATE OF status ON jobs
  WHEN old.status IS NOT new.status BEGIN
  UPDATE job_counts SET n = n - 1 WHERE status = old.status;
  UPDATE job_counts SET n = n + 1 WHERE status = new.status;
END;

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * 0007: batches and fair share.
 *
 * A batch keeps its template graph, its spec (seeds, items, sweep, bindings:
 * src/domain/batch-spec.ts) and its settings once; each of its jobs is a
 * `jobs` row whose `prompt` is empty and whose graph is derived from the
 * batch and its `batch_index` when the job is read. A later run of an item
 * (a reset, a re-render) is a new row; the earlier one keeps its outputs as
 * history, its `batch_id` moved to `batch_past` so that `batch_id` names the
 * current run of each item only.
 *
 * Fair share: `fair` is the job's start tag in start-time fair queuing,
 * computed at enqueue per group (a batch, or the owner of single jobs) and
 * per priority: max(the priority's virtual clock, the group's last finish
 * tag), each job of a group of weight w adding 1/w. The run order becomes
 * (priority desc, fair, position, created_at, id), so at equal priority the
 * groups take turns in proportion to their weights, and inside one group the
 * plain order holds. The clock of a priority is the highest start tag
 * claimed at it, kept by a trigger on the claim. `held` keeps a paused
 * batch's pending jobs out of the run order. `tracker` is 'done' once a
 * client said it has the job's outputs.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE batches (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  template    TEXT NOT NULL,
  workflow    TEXT,
  extra_data  TEXT NOT NULL,
  spec        TEXT NOT NULL,
  total       INTEGER NOT NULL,
  priority    INTEGER NOT NULL,
  weight      REAL NOT NULL DEFAULT 1 CHECK (weight > 0),
  requires    TEXT,
  client_id   TEXT,
  paused      INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL
);

ALTER TABLE jobs ADD COLUMN batch_id INTEGER;
ALTER TABLE jobs ADD COLUMN batch_index INTEGER;
ALTER TABLE jobs ADD COLUMN batch_past INTEGER;
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN fair REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN tracker TEXT;

DROP INDEX jobs_pending_order;
-- A worker's jobs only: queries name a worker (worker = ?), which implies NOT NULL, and a batch's
-- 100,000 pending items then add nothing to these two indexes.
DROP INDEX jobs_worker_status;
CREATE INDEX jobs_worker_status ON jobs (worker, status) WHERE worker IS NOT NULL;
DROP INDEX jobs_worker_created;
CREATE INDEX jobs_worker_created ON jobs (worker, status, created_at, id) WHERE worker IS NOT NULL;
CREATE INDEX jobs_run_order ON jobs (priority DESC, fair, position, created_at, id)
  WHERE status = 'pending' AND held = 0;
CREATE INDEX jobs_batch_item ON jobs (batch_id, batch_index) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_batch_status ON jobs (batch_id, status, flagged, tracker) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_batch_past ON jobs (batch_past, batch_index) WHERE batch_past IS NOT NULL;

CREATE TABLE fair_clock (
  priority INTEGER PRIMARY KEY,
  v        REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE fair_groups (
  grp      TEXT NOT NULL,
  priority INTEGER NOT NULL,
  finish   REAL NOT NULL,
  PRIMARY KEY (grp, priority)
) WITHOUT ROWID;

CREATE TRIGGER jobs_fair_clock AFTER UPDATE OF status ON jobs
  WHEN old.status = 'pending' AND new.status = 'in_progress' BEGIN
  INSERT INTO fair_clock (priority, v) VALUES (new.priority, new.fair)
    ON CONFLICT (priority) DO UPDATE SET v = max(v, excluded.v);
END;
`;

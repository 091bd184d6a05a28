/**
 * 0003: batches and fair share, as the SQLite store's 0007.
 *
 * A batch keeps its template graph, its spec and its settings once; each of
 * its jobs is a `jobs` row whose `prompt` is empty and whose graph is derived
 * from the batch and its `batch_index` when the job is read. A later run of
 * an item is a new row; the earlier one keeps its outputs as history, its
 * `batch_id` moved to `batch_past`, so that `batch_id` names the current run
 * of each item only.
 *
 * Fair share: `fair` is the job's start tag in start-time fair queuing,
 * per group (a batch, or the owner of single jobs) and priority: the later of
 * the priority's virtual clock and the group's last finish tag, each job of a
 * group of weight w adding 1/w. The run order becomes (priority desc, fair,
 * position, created_at, id), one partial index. The clock of a priority is
 * the highest start tag claimed at it, kept by a trigger on the claim in 16
 * slots (each session raises the slot of its own process id, so concurrent
 * claims do not queue on one row; a read takes the max). `held` keeps a
 * paused batch's pending jobs out of the run order; `tracker` is 'done' once
 * a client said it has the job's outputs.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE batches (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL,
  template    text NOT NULL,
  workflow    text,
  extra_data  text NOT NULL,
  spec        text NOT NULL,
  total       integer NOT NULL,
  priority    integer NOT NULL,
  weight      double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
  requires    text,
  client_id   text,
  paused      boolean NOT NULL DEFAULT false,
  created_at  bigint NOT NULL
);

ALTER TABLE jobs
  ADD COLUMN batch_id bigint,
  ADD COLUMN batch_index integer,
  ADD COLUMN batch_past bigint,
  ADD COLUMN owner text,
  ADD COLUMN fair double precision NOT NULL DEFAULT 0,
  ADD COLUMN held boolean NOT NULL DEFAULT false,
  ADD COLUMN tracker text;

DROP INDEX jobs_pending_order;
CREATE INDEX jobs_run_order ON jobs (priority DESC, fair, position, created_at, id)
  WHERE status = 'pending' AND NOT held;
-- A worker's jobs only: queries name a worker, and a batch's pending items add nothing here.
DROP INDEX jobs_worker_created;
CREATE INDEX jobs_worker_created ON jobs (worker, status, created_at, id) WHERE worker IS NOT NULL;
CREATE INDEX jobs_batch_item ON jobs (batch_id, batch_index) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_batch_status ON jobs (batch_id, status, flagged, tracker) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_batch_past ON jobs (batch_past, batch_index) WHERE batch_past IS NOT NULL;

CREATE TABLE fair_clock (
  priority integer NOT NULL,
  slot     integer NOT NULL,
  v        double precision NOT NULL,
  PRIMARY KEY (priority, slot)
);
CREATE TABLE fair_groups (
  grp      text COLLATE "C" NOT NULL,
  priority integer NOT NULL,
  finish   double precision NOT NULL,
  PRIMARY KEY (grp, priority)
);

CREATE FUNCTION jobs_fair_clock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO fair_clock (priority, slot, v) VALUES (NEW.priority, pg_backend_pid() % 16, NEW.fair)
    ON CONFLICT (priority, slot) DO UPDATE SET v = excluded.v WHERE fair_clock.v < excluded.v;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_fair_clock AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status = 'in_progress')
  EXECUTE FUNCTION jobs_fair_clock();
`;

/**
 * 0001: the whole schema of the PostgreSQL store as the SQLite store has it
 * after its migration 0005: jobs with their listing columns and indexes,
 * per-status counts, files, thumbnails, the text index, workers, settings.
 *
 * - `position` is double precision (ComfyUI's `number` may be any number);
 *   new jobs take theirs from the sequence `job_positions`, never max()+1.
 * - Counts are kept in `job_counts` spread over 16 slots per status: each
 *   backend adds to the slot of its own pid, so concurrent writers do not queue
 *   on one row; a read sums 80 rows.
 * - `search` holds each job's words, folded by the store (search-terms.ts):
 *   a GIN index answers prefix queries (`'cafe':*`).
 * - Ids, names and workers compare bytewise (COLLATE "C"), as in SQLite and
 *   JavaScript, so keyset cursors agree with the code that reads them.
 * Append-only: never edit a migration that has shipped; add 0002-… instead.
 */
export const sql = `
CREATE SEQUENCE job_positions AS bigint;

CREATE TABLE jobs (
  id            text COLLATE "C" PRIMARY KEY,
  name          text,
  prompt        text NOT NULL,
  workflow      text,
  extra_data    text NOT NULL,
  sensitive     text,
  client_id     text,
  priority      integer NOT NULL DEFAULT 0,
  position      double precision NOT NULL,
  status        text NOT NULL
                CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
  created_at    bigint NOT NULL,
  started_at    bigint,
  ended_at      bigint,
  worker        text COLLATE "C",
  attempts      integer NOT NULL DEFAULT 0,
  error         text,
  outputs       text,
  lease_until   bigint,
  targets       text,
  flagged       boolean NOT NULL DEFAULT false,
  requeued_from text,
  requires      text,
  retries       integer NOT NULL DEFAULT 0,
  workflow_id   text COLLATE "C",
  duration      bigint GENERATED ALWAYS AS (
                  CASE WHEN started_at IS NOT NULL AND ended_at IS NOT NULL THEN ended_at - started_at ELSE 0 END
                ) STORED,
  search        tsvector NOT NULL DEFAULT ''::tsvector
);

-- Run order of the queue; partial, so it stays as small as the queue itself.
CREATE INDEX jobs_pending_order ON jobs (priority DESC, position, created_at, id) WHERE status = 'pending';
CREATE INDEX jobs_in_progress ON jobs (priority, position) WHERE status = 'in_progress';
-- One keyset walk per status and sort.
CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
CREATE INDEX jobs_status_duration ON jobs (status, duration, id);
CREATE INDEX jobs_status_ended ON jobs (status, ended_at, id);
CREATE INDEX jobs_workflow ON jobs (workflow_id, status, created_at, id) WHERE workflow_id IS NOT NULL;
CREATE INDEX jobs_flagged ON jobs (status, created_at, id) WHERE flagged;
CREATE INDEX jobs_worker_created ON jobs (worker, status, created_at, id);
CREATE INDEX jobs_search ON jobs USING gin (search);

CREATE TABLE job_counts (
  status text NOT NULL,
  slot   integer NOT NULL,
  n      bigint NOT NULL,
  PRIMARY KEY (status, slot)
);
INSERT INTO job_counts (status, slot, n)
  SELECT s, slot, 0
  FROM unnest(ARRAY['pending', 'in_progress', 'completed', 'failed', 'cancelled']) AS s,
       generate_series(0, 15) AS slot;

CREATE FUNCTION job_counts_add(p_status text, p_delta bigint) RETURNS void LANGUAGE sql AS $$
  UPDATE job_counts SET n = n + p_delta WHERE status = p_status AND slot = pg_backend_pid() % 16;
$$;

CREATE FUNCTION jobs_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM job_counts_add(status, count(*)) FROM new_rows GROUP BY status;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_inserted();

CREATE FUNCTION jobs_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM job_counts_add(status, -count(*)) FROM old_rows GROUP BY status;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_deleted();

CREATE FUNCTION jobs_count_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM job_counts_add(OLD.status, -1);
  PERFORM job_counts_add(NEW.status, 1);
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_count_status AFTER UPDATE OF status ON jobs
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION jobs_count_status();

-- The files each job produced, for /view routing; kept from outputs by a trigger.
CREATE TABLE job_files (
  type      text NOT NULL,
  subfolder text NOT NULL,
  filename  text NOT NULL,
  job_id    text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  PRIMARY KEY (type, subfolder, filename, job_id)
);
CREATE INDEX job_files_job ON job_files (job_id);

CREATE FUNCTION jobs_files_outputs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_files (type, subfolder, filename, job_id)
    WITH RECURSIVE walk(v) AS (
      SELECT NEW.outputs::jsonb
      UNION ALL
      SELECT c.value FROM walk,
        LATERAL (SELECT e.value FROM jsonb_each(CASE WHEN jsonb_typeof(walk.v) = 'object' THEN walk.v END) e
                 UNION ALL
                 SELECT a.value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(walk.v) = 'array' THEN walk.v END) a) c
    )
    SELECT coalesce(v->>'type', 'output'), coalesce(v->>'subfolder', ''), v->>'filename', NEW.id
    FROM walk
    WHERE jsonb_typeof(v) = 'object' AND jsonb_typeof(v->'filename') = 'string'
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_files_outputs AFTER UPDATE OF outputs ON jobs
  FOR EACH ROW WHEN (NEW.outputs IS NOT NULL AND NEW.outputs IS DISTINCT FROM OLD.outputs)
  EXECUTE FUNCTION jobs_files_outputs();

-- History thumbnails, apart from the job rows so that listing pages never read image bytes.
CREATE TABLE thumbnails (
  job_id     text COLLATE "C" PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  png        bytea NOT NULL,
  width      integer NOT NULL,
  height     integer NOT NULL,
  bytes      integer NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX thumbnails_created ON thumbnails (created_at, job_id);

CREATE TABLE thumbnail_totals (
  slot  integer PRIMARY KEY,
  n     bigint NOT NULL,
  bytes bigint NOT NULL
);
INSERT INTO thumbnail_totals (slot, n, bytes) SELECT slot, 0, 0 FROM generate_series(0, 15) AS slot;

CREATE FUNCTION thumbnails_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    UPDATE thumbnail_totals SET n = n - 1, bytes = bytes - OLD.bytes WHERE slot = pg_backend_pid() % 16;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE thumbnail_totals SET n = n + 1, bytes = bytes + NEW.bytes WHERE slot = pg_backend_pid() % 16;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER thumbnails_total AFTER INSERT OR UPDATE OF bytes OR DELETE ON thumbnails
  FOR EACH ROW EXECUTE FUNCTION thumbnails_total();

CREATE TABLE workers (
  id         text COLLATE "C" PRIMARY KEY,
  kind       text NOT NULL CHECK (kind IN ('push', 'agent')),
  source     text NOT NULL DEFAULT 'api' CHECK (source IN ('flag', 'api')),
  url        text,
  tags       text NOT NULL DEFAULT '[]',
  capacity   integer NOT NULL CHECK (capacity >= 1),
  mode       text NOT NULL DEFAULT 'active' CHECK (mode IN ('active', 'draining', 'paused')),
  health     text NOT NULL DEFAULT '{}',
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE settings (
  key   text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);
`;

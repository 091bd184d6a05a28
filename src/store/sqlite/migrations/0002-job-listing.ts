/**
 * 0002: what the ComfyUI-compatible listing (/api/jobs, /history) and /view
 * routing need: the workflow id and the run duration as indexed generated
 * columns, keyset indexes per status for every sort, and the files each job
 * produced (kept by a trigger on outputs, so no writer has to know).
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
ALTER TABLE jobs ADD COLUMN workflow_id TEXT GENERATED ALWAYS AS (
  CASE WHEN workflow IS NOT NULL AND json_valid(workflow) AND json_type(workflow, '$.id') = 'text'
       THEN json_extract(workflow, '$.id') END
) VIRTUAL;
ALTER TABLE jobs ADD COLUMN duration INTEGER GENERATED ALWAYS AS (
  CASE WHEN started_at IS NOT NULL AND ended_at IS NOT NULL THEN ended_at - started_at ELSE 0 END
) VIRTUAL;

-- One keyset walk per status, merged by the caller: a page costs O(limit)
-- per requested status, whatever the number of rows.
CREATE INDEX jobs_status_duration ON jobs (status, duration, id);
CREATE INDEX jobs_status_ended ON jobs (status, ended_at, id);
CREATE INDEX jobs_workflow ON jobs (workflow_id, status, created_at, id) WHERE workflow_id IS NOT NULL;

CREATE TABLE job_files (
  type      TEXT NOT NULL,
  subfolder TEXT NOT NULL,
  filename  TEXT NOT NULL,
  job_id    TEXT NOT NULL,
  PRIMARY KEY (type, subfolder, filename, job_id)
) WITHOUT ROWID;
CREATE INDEX job_files_job ON job_files (job_id);

CREATE TRIGGER jobs_files_outputs AFTER UPDATE OF outputs ON jobs
  WHEN new.outputs IS NOT NULL AND json_valid(new.outputs) BEGIN
  INSERT OR IGNORE INTO job_files (type, subfolder, filename, job_id)
    SELECT coalesce(json_extract(new.outputs, f.path || '.type'), 'output'),
           coalesce(json_extract(new.outputs, f.path || '.subfolder'), ''),
           f.value, new.id
    FROM json_tree(new.outputs) AS f
    WHERE f.key = 'filename' AND f.type = 'text';
END;
CREATE TRIGGER jobs_files_delete AFTER DELETE ON jobs BEGIN
  DELETE FROM job_files WHERE job_id = old.id;
END;
`;

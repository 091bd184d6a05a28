/**
 * 0003: history thumbnails, apart from the job rows so that listing pages
 * never read image bytes. `thumbnail_totals` is kept by triggers, so the
 * storage a retention limit looks at costs one row read. A job's thumbnail
 * goes with the job.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE thumbnails (
  job_id     TEXT PRIMARY KEY,
  png        BLOB NOT NULL,
  width      INTEGER NOT NULL,
  height     INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX thumbnails_created ON thumbnails (created_at, job_id);

CREATE TABLE thumbnail_totals (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  n     INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO thumbnail_totals (id, n, bytes) VALUES (1, 0, 0);

CREATE TRIGGER thumbnails_total_insert AFTER INSERT ON thumbnails BEGIN
  UPDATE thumbnail_totals SET n = n + 1, bytes = bytes + new.bytes WHERE id = 1;
END;
CREATE TRIGGER thumbnails_total_delete AFTER DELETE ON thumbnails BEGIN
  UPDATE thumbnail_totals SET n = n - 1, bytes = bytes - old.bytes WHERE id = 1;
END;
CREATE TRIGGER thumbnails_total_update AFTER UPDATE OF bytes ON thumbnails BEGIN
  UPDATE thumbnail_totals SET bytes = bytes - old.bytes + new.bytes WHERE id = 1;
END;

CREATE TRIGGER jobs_thumbnail_delete AFTER DELETE ON jobs BEGIN
  DELETE FROM thumbnails WHERE job_id = old.id;
END;
`;

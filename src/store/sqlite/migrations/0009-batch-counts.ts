/**
 * 0009: a batch's items are counted by the statement that creates them. The
 * count trigger of 0001 ran once per inserted row: 100,000 one-row updates of
 * `job_counts` for one batch. A job inserted with a `batch_id` (a batch's item,
 * or an item's later run) is now counted by its writer (sqlite/batches.ts), in
 * one update per statement; every other insert, and every delete and status
 * change, is still counted by the triggers.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
DROP TRIGGER jobs_count_insert;
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs WHEN new.batch_id IS NULL BEGIN
  UPDATE job_counts SET n = n + 1 WHERE status = new.status;
END;
`;

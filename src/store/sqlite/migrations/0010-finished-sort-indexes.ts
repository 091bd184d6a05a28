/**
 * 0010: the completion-time index holds finished jobs only. Every job stored
 * is pending, with no completion time, so in the full index of 0002 each new
 * job went to a random leaf (ordered by its random id), one of the five pages
 * an enqueue wrote, and each claim moved its entry again. Only a finished job
 * has a completion time, every finished job has one, and only finished jobs
 * are listed by it. (The duration index stays whole: unfinished jobs are
 * listed by duration too, all at 0 and then by id, and without the index a
 * page of them would read and sort every one.)
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
DROP INDEX jobs_status_ended;
CREATE INDEX jobs_status_ended ON jobs (status, ended_at, id) WHERE ended_at IS NOT NULL;
`;

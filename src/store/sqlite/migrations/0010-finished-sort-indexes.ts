/**
 * 0010: the completion-time and duration indexes hold finished jobs only.
 * Every job stored is pending, with no completion time and a duration of 0,
 * so in the full indexes of 0002 each new job went to a random leaf of both
 * (ordered by its random id): two of the five pages an enqueue wrote, and
 * each claim moved both entries again. Only a finished job has a completion
 * time, and every finished job has one, so these indexes now hold exactly
 * the finished jobs; listings of unfinished jobs by duration (all 0) sort
 * those jobs instead (sqlite/list-jobs.ts).
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
DROP INDEX jobs_status_ended;
CREATE INDEX jobs_status_ended ON jobs (status, ended_at, id) WHERE ended_at IS NOT NULL;
DROP INDEX jobs_status_duration;
CREATE INDEX jobs_status_duration ON jobs (status, duration, id) WHERE ended_at IS NOT NULL;
`;

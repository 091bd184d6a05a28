/**
 * 0002: remote agents and collected outputs, as SQLite's 0006 and 0008.
 *
 * - `agent_enrollments`: a one-time token the operator makes (only its hash
 *   is kept); redeeming it gives an agent its own credential (only its hash is
 *   kept too). Revoking an enrollment revokes the credential it gave. An agent
 *   enrolled with the server's own token has a row without a token hash.
 * - `collections`: one row per job whose output files were copied to the
 *   collect folder or bucket, or are being. `ended_at` names the completion
 *   the row belongs to, so a job that runs again (and ends again) is collected
 *   again. A completed job without a row of its completion is waiting to be
 *   collected; the collector walks `jobs_status_ended` (0001) for those. A
 *   job's row goes with the job (the foreign key; SQLite has a trigger); the
 *   collected files stay where they are.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE agent_enrollments (
  id              text COLLATE "C" PRIMARY KEY,
  token_hash      text UNIQUE,
  note            text,
  created_at      bigint NOT NULL,
  expires_at      bigint,
  used_at         bigint,
  agent           text COLLATE "C",
  credential_hash text UNIQUE,
  revoked_at      bigint
);
CREATE INDEX agent_enrollments_agent ON agent_enrollments (agent);
CREATE INDEX agent_enrollments_created ON agent_enrollments (created_at, id);

CREATE TABLE collections (
  job_id     text COLLATE "C" PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  ended_at   bigint NOT NULL,
  state      text NOT NULL CHECK (state IN ('pending', 'stored', 'failed')),
  target     text NOT NULL,
  files      text NOT NULL DEFAULT '[]',
  attempts   integer NOT NULL DEFAULT 0,
  error      text,
  updated_at bigint NOT NULL
);
`;

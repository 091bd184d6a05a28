/**
 * 0006: remote agents. An enrollment is a one-time token the operator makes
 * (only its hash is kept); redeeming it gives an agent its own credential
 * (only its hash is kept too). Revoking an enrollment revokes the credential
 * it gave. An agent enrolled with the server's own token has a row without a
 * token hash. Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE agent_enrollments (
  id              TEXT PRIMARY KEY,
  token_hash      TEXT UNIQUE,
  note            TEXT,
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER,
  used_at         INTEGER,
  agent           TEXT,
  credential_hash TEXT UNIQUE,
  revoked_at      INTEGER
);
CREATE INDEX agent_enrollments_agent ON agent_enrollments (agent);
`;

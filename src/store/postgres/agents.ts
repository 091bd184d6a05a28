/** The agent enrollments table (migration 0002) on PostgreSQL. */
import type { AgentEnrollment } from '../job-store.js';
import { type EnrollmentRow, rowToEnrollment } from '../record-rows.js';
import { type Queryable, rowsOf } from './queryable.js';

const COLUMNS = 'id, token_hash, note, created_at, expires_at, used_at, agent, credential_hash, revoked_at';

/** Replaces the row of the same id as a whole. */
export async function saveEnrollment(db: Queryable, e: AgentEnrollment): Promise<void> {
  await db.query(
    `INSERT INTO agent_enrollments (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, note = excluded.note,
       created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at,
       agent = excluded.agent, credential_hash = excluded.credential_hash, revoked_at = excluded.revoked_at`,
    [e.id, e.tokenHash, e.note, e.createdAt, e.expiresAt, e.usedAt, e.agent, e.credentialHash, e.revokedAt],
  );
}

export async function listEnrollments(db: Queryable): Promise<AgentEnrollment[]> {
  return (
    await rowsOf<EnrollmentRow>(db, `SELECT ${COLUMNS} FROM agent_enrollments ORDER BY created_at, id`)
  ).map(rowToEnrollment);
}

/**
 * One compare-and-set UPDATE: of two servers redeeming the same token at once,
 * the second waits on the row lock, then finds it used and matches nothing.
 */
export async function redeemEnrollment(
  db: Queryable,
  tokenHash: string,
  agent: string,
  credentialHash: string,
  now: number,
): Promise<AgentEnrollment | null> {
  const [row] = await rowsOf<EnrollmentRow>(
    db,
    `UPDATE agent_enrollments SET used_at = $4, agent = $2, credential_hash = $3
     WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL
       AND (expires_at IS NULL OR expires_at > $4)
     RETURNING ${COLUMNS}`,
    [tokenHash, agent, credentialHash, now],
  );
  return row ? rowToEnrollment(row) : null;
}

export async function enrollmentForCredential(
  db: Queryable,
  credentialHash: string,
): Promise<AgentEnrollment | null> {
  const [row] = await rowsOf<EnrollmentRow>(
    db,
    `SELECT ${COLUMNS} FROM agent_enrollments WHERE credential_hash = $1`,
    [credentialHash],
  );
  return row ? rowToEnrollment(row) : null;
}

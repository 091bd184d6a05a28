/** The agent enrollments table (migration 0006) on SQLite. */
import type Database from 'better-sqlite3';
import type { AgentEnrollment } from '../job-store.js';
import { type EnrollmentRow, rowToEnrollment } from '../record-rows.js';

export class SqliteAgents {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      save: db.prepare<EnrollmentRow>(
        `INSERT OR REPLACE INTO agent_enrollments
           (id, token_hash, note, created_at, expires_at, used_at, agent, credential_hash, revoked_at)
         VALUES (@id, @token_hash, @note, @created_at, @expires_at, @used_at, @agent, @credential_hash, @revoked_at)`,
      ),
      list: db.prepare<[], EnrollmentRow>('SELECT * FROM agent_enrollments ORDER BY created_at, id'),
      redeem: db.prepare<
        { token_hash: string; agent: string; credential_hash: string; now: number },
        EnrollmentRow
      >(
        `UPDATE agent_enrollments SET used_at = @now, agent = @agent, credential_hash = @credential_hash
         WHERE token_hash = @token_hash AND used_at IS NULL AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > @now)
         RETURNING *`,
      ),
      byCredential: db.prepare<[string], EnrollmentRow>(
        'SELECT * FROM agent_enrollments WHERE credential_hash = ?',
      ),
    };
  }

  save(e: AgentEnrollment): void {
    this.s.save.run({
      id: e.id,
      token_hash: e.tokenHash,
      note: e.note,
      created_at: e.createdAt,
      expires_at: e.expiresAt,
      used_at: e.usedAt,
      agent: e.agent,
      credential_hash: e.credentialHash,
      revoked_at: e.revokedAt,
    });
  }

  list(): AgentEnrollment[] {
    return this.s.list.all().map(rowToEnrollment);
  }

  redeem(tokenHash: string, agent: string, credentialHash: string, now: number): AgentEnrollment | null {
    const row = this.s.redeem.get({ token_hash: tokenHash, agent, credential_hash: credentialHash, now });
    return row ? rowToEnrollment(row) : null;
  }

  forCredential(credentialHash: string): AgentEnrollment | null {
    const row = this.s.byCredential.get(credentialHash);
    return row ? rowToEnrollment(row) : null;
  }
}

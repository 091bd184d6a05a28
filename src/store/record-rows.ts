/**
 * Rows of the small tables as both stores read them (JSON kept as text), and
 * the records they make: workers, agent enrollments, output collections.
 */
import type { AgentEnrollment, CollectedFile, CollectionRecord, WorkerRecord } from './job-store.js';

export interface WorkerRow {
  id: string;
  kind: 'push' | 'agent';
  source: 'flag' | 'api';
  url: string | null;
  tags: string;
  capacity: number;
  mode: WorkerRecord['mode'];
  health: string;
  created_at: number;
  updated_at: number;
}

export function rowToWorker(r: WorkerRow): WorkerRecord {
  return {
    id: r.id,
    kind: r.kind,
    source: r.source,
    url: r.url,
    tags: JSON.parse(r.tags) as string[],
    capacity: r.capacity,
    mode: r.mode,
    health: JSON.parse(r.health) as Record<string, unknown>,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface EnrollmentRow {
  id: string;
  token_hash: string | null;
  note: string | null;
  created_at: number;
  expires_at: number | null;
  used_at: number | null;
  agent: string | null;
  credential_hash: string | null;
  revoked_at: number | null;
}

export function rowToEnrollment(r: EnrollmentRow): AgentEnrollment {
  return {
    id: r.id,
    tokenHash: r.token_hash,
    note: r.note,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
    agent: r.agent,
    credentialHash: r.credential_hash,
    revokedAt: r.revoked_at,
  };
}

export interface CollectionRow {
  job_id: string;
  ended_at: number;
  state: CollectionRecord['state'];
  target: string;
  files: string;
  attempts: number;
  error: string | null;
  updated_at: number;
}

export function rowToCollection(r: CollectionRow): CollectionRecord {
  return {
    jobId: r.job_id,
    endedAt: r.ended_at,
    state: r.state,
    target: r.target,
    files: JSON.parse(r.files) as CollectedFile[],
    attempts: r.attempts,
    error: r.error,
    updatedAt: r.updated_at,
  };
}

/** A workers-table row as both stores read it (tags and health are JSON text), and the record it makes. */
import type { WorkerRecord } from './job-store.js';

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

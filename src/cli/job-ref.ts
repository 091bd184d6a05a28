/**
 * Short job ids: a unique prefix of a job id, as `ls` and `history` show
 * them, stands for the job. The API takes whole ids only, so the prefix is
 * looked up in the queue and then in the history, newest first, a page at a
 * time; the look-up stops at a second match. History beyond SCAN_LIMIT jobs is
 * not searched: a job that old is named by its whole id.
 */
import type { ApiClient } from './api-client.js';
import { UsageError } from './args.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PAGE = 500;
export const SCAN_LIMIT = 20_000;

interface Listed {
  prompt_id: string;
}

export async function resolveJobId(api: ApiClient, ref: string): Promise<string> {
  const prefix = ref.trim().toLowerCase();
  if (UUID.test(prefix)) return prefix;
  if (!/^[0-9a-f-]{1,36}$/.test(prefix)) {
    throw new UsageError(`"${ref}" is not a job id (ids are like 1c0e6a0e-6a55-…; a prefix of one will do)`);
  }
  const found = new Set<string>();
  const take = (jobs: Listed[]) => {
    for (const j of jobs) if (j.prompt_id.startsWith(prefix)) found.add(j.prompt_id);
  };
  const q = await api.get<{ running: Listed[]; pending: Listed[] }>('/api/pqueue?limit=10000');
  take(q.running);
  take(q.pending);
  let cursor: string | null = null;
  for (let seen = 0; found.size < 2 && seen < SCAN_LIMIT; seen += PAGE) {
    const page: { jobs: Listed[]; next_cursor: string | null } = await api.get(
      `/api/pqueue/history?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    take(page.jobs);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  if (found.size === 1) return [...found][0] as string;
  if (found.size === 0) throw new JobRefError(`no job id starts with "${ref}"`);
  throw new JobRefError(
    `"${ref}" matches more than one job (${[...found].join(', ')}): give more characters`,
  );
}

/** A prefix that names no job, or several. */
export class JobRefError extends Error {
  override name = 'JobRefError';
}

/**
 * ComfyUI's GET /api/jobs over the simulator's queue and history
 * (comfy_execution/jobs.py, protocol §5): normalized jobs, status and
 * workflow filters, both sorts, offset/limit. No cursor, as in ComfyUI
 * before seed 003; comfy-queue's conformance suite compares against this.
 */
import { outputsSummary } from '../domain/comfy-outputs.js';
import type { HistoryEntry } from './history.js';
import type { SimState } from './simulator.js';

const STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'];
type Dict = Record<string, unknown>;

function prune(o: Dict): Dict {
  for (const k of Object.keys(o)) if (o[k] === null || o[k] === undefined) delete o[k];
  return o;
}

function meta(extra: Dict): { create_time: unknown; workflow_id: unknown } {
  const pnginfo = (extra.extra_pnginfo ?? {}) as { workflow?: { id?: unknown } };
  return { create_time: extra.create_time, workflow_id: pnginfo.workflow?.id ?? null };
}

function fromHistory(id: string, h: HistoryEntry): Dict {
  const [priority, , , extra] = h.prompt as [number, string, unknown, Dict];
  let start: unknown = null;
  let end: unknown = null;
  let error: unknown = null;
  let interrupted = false;
  for (const [name, data] of h.status.messages) {
    const d = data as Dict;
    if (name === 'execution_start') start = d.timestamp;
    if (name === 'execution_success' || name === 'execution_error' || name === 'execution_interrupted') {
      end = d.timestamp;
    }
    if (name === 'execution_error') error = d;
    if (name === 'execution_interrupted') interrupted = true;
  }
  const status = h.status.status_str === 'error' ? (interrupted ? 'cancelled' : 'failed') : 'completed';
  const { count, preview } = outputsSummary(h.outputs);
  return prune({
    id,
    status,
    priority,
    ...meta(extra),
    execution_start_time: start,
    execution_end_time: end,
    execution_error: error,
    outputs_count: count,
    preview_output: preview,
  });
}

export function simJobs(sim: SimState, q: URLSearchParams): { status: number; body: unknown } {
  const rawStatus = q.get('status');
  const wanted = rawStatus ? rawStatus.split(',').map((s) => s.trim().toLowerCase()) : STATUSES;
  const bad = wanted.filter((s) => !STATUSES.includes(s));
  if (bad.length) {
    return {
      status: 400,
      body: { error: `Invalid status value(s): ${bad.join(', ')}. Valid values: ${STATUSES.join(', ')}` },
    };
  }
  const sortBy = (q.get('sort_by') ?? 'created_at').toLowerCase();
  if (sortBy !== 'created_at' && sortBy !== 'execution_duration') {
    return { status: 400, body: { error: "sort_by must be 'created_at' or 'execution_duration'" } };
  }
  const order = (q.get('sort_order') ?? 'desc').toLowerCase();
  if (order !== 'asc' && order !== 'desc')
    return { status: 400, body: { error: "sort_order must be 'asc' or 'desc'" } };
  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? null : Number.parseInt(limitRaw, 10);
  if (limitRaw !== null && !/^\s*[+-]?\d+\s*$/.test(limitRaw))
    return { status: 400, body: { error: 'limit must be an integer' } };
  if (limit !== null && limit <= 0)
    return { status: 400, body: { error: 'limit must be a positive integer' } };
  const offsetRaw = q.get('offset');
  if (offsetRaw !== null && !/^\s*[+-]?\d+\s*$/.test(offsetRaw))
    return { status: 400, body: { error: 'offset must be an integer' } };
  const offset = Math.max(0, offsetRaw === null ? 0 : Number.parseInt(offsetRaw, 10));

  let jobs: Dict[] = [];
  if (wanted.includes('in_progress') && sim.running) {
    const r = sim.running;
    jobs.push(
      prune({
        id: r.promptId,
        status: 'in_progress',
        priority: r.number,
        ...meta(r.extraData),
        outputs_count: 0,
      }),
    );
  }
  if (wanted.includes('pending')) {
    for (const r of sim.queue.items()) {
      jobs.push(
        prune({
          id: r.promptId,
          status: 'pending',
          priority: r.number,
          ...meta(r.extraData),
          outputs_count: 0,
        }),
      );
    }
  }
  for (const [id, h] of Object.entries(sim.history.list(null, null))) {
    const j = fromHistory(id, h);
    if (wanted.includes(j.status as string)) jobs.push(j);
  }
  const wf = q.get('workflow_id');
  if (wf) jobs = jobs.filter((j) => j.workflow_id === wf);
  const key = (j: Dict): number => {
    if (sortBy === 'execution_duration') {
      const s = j.execution_start_time as number | undefined;
      const e = j.execution_end_time as number | undefined;
      return s && e ? e - s : 0;
    }
    return (j.create_time as number | undefined) ?? 0;
  };
  const sign = order === 'desc' ? -1 : 1;
  jobs.sort((a, b) => sign * (key(a) - key(b) || ((a.id as string) < (b.id as string) ? -1 : 1)));
  const total = jobs.length;
  const page = jobs.slice(offset, limit === null ? undefined : offset + limit);
  return {
    status: 200,
    body: { jobs: page, pagination: { offset, limit, total, has_more: offset + page.length < total } },
  };
}

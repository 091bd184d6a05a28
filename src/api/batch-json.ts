/** Batches and their items as the API shows them (snake_case, times in ms since epoch). */
import { itemValues } from '../domain/batch-spec.js';
import type { Job } from '../domain/job.js';
import { trackerStatus } from '../domain/tracker-status.js';
import type { BatchProgress } from '../engine/batches.js';
import type { BatchRecord } from '../store/batch-types.js';

export function batchJson(p: BatchProgress): Record<string, unknown> {
  const { batch: b } = p;
  const figures = batchFigures(p);
  return {
    id: b.id,
    name: b.name,
    total: b.total,
    priority: b.priority,
    weight: b.weight,
    paused: b.paused,
    requires: b.requires,
    client_id: b.clientId,
    created_at: b.createdAt,
    state: figures.state,
    counts: figures.counts,
    tracker: figures.tracker,
    per_minute: figures.per_minute,
    eta_ms: figures.eta_ms,
    spec: {
      count: b.spec.count,
      seed: b.spec.seed === null ? null : 'start' in b.spec.seed ? b.spec.seed : 'random',
      sweep: Object.fromEntries(b.spec.sweep.map((s) => [`${s.ref.node}.inputs.${s.ref.input}`, s.values])),
      bindings: Object.fromEntries(
        Object.entries(b.spec.bindings).map(([k, r]) => [k, `${r.node}.inputs.${r.input}`]),
      ),
      items: b.spec.items?.length ?? null,
    },
  };
}

/** What changes while a batch runs: state, counts, pace and ETA, as `batchJson` shows them. */
function batchFigures(p: BatchProgress) {
  const { batch: b, counts } = p;
  const finished = counts.completed + counts.failed + counts.cancelled;
  return {
    state: finished === b.total ? 'finished' : b.paused ? 'paused' : 'running',
    paused: b.paused,
    total: b.total,
    counts: {
      pending: counts.pending,
      in_progress: counts.in_progress,
      completed: counts.completed,
      failed: counts.failed,
      cancelled: counts.cancelled,
      flagged: counts.flagged,
      done: counts.done,
    },
    tracker: counts.tracker,
    per_minute: Math.round(p.perMinute * 100) / 100,
    eta_ms: p.etaMs,
  };
}

/**
 * The event websocket's `batch.progress` (docs/events.md): a batch's figures, and the indexes of
 * its items that changed since the previous one (null: many, or a change of the whole batch).
 */
export function batchProgressMessage(
  p: BatchProgress,
  changed: number[] | null,
  at: number,
): { type: 'batch.progress'; at: number } & Record<string, unknown> {
  return { type: 'batch.progress', at, batch_id: p.batch.id, ...batchFigures(p), changed };
}

/**
 * A job as the render tracker shows it: its index, seed, traits and tracker status. `collected`:
 * whether its outputs are stored where the server collects them (null: collection is off).
 */
export function trackerJobJson(
  job: Job,
  batch: BatchRecord | null,
  collected: boolean | null = null,
): Record<string, unknown> {
  const values = batch && job.batch ? itemValues(batch.spec, job.batch.index) : null;
  const external = (job.outputs?.external as { files?: unknown[] } | undefined)?.files ?? null;
  return {
    job_id: job.id,
    batch: batch?.name ?? null,
    batch_id: job.batch?.id ?? null,
    index: job.batch?.index ?? null,
    status: trackerStatus({ status: job.status, flagged: job.flagged, done: job.done === true }, collected),
    queue_status: job.status,
    seed: values?.seed ?? null,
    traits: values?.traits ?? null,
    sweep: values && Object.keys(values.sweep).length ? values.sweep : null,
    worker: job.worker,
    attempts: job.attempts,
    flagged: job.flagged,
    created_at: job.createdAt,
    started_at: job.startedAt,
    ended_at: job.endedAt,
    error: job.error ? { type: job.error.type, message: job.error.message } : null,
    outputs: external ?? job.outputs,
  };
}

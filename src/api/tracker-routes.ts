/**
 * The render tracker's API under `/api/pqueue/tracker`, and at its own paths
 * (`/next-job`, `/job/{id}/status`, `/job/{id}/flag`, `/job/{id}/reset`,
 * `/stats`, `/preview/{id}`) so that its worker scripts keep working
 * unchanged. Its listing is served under the prefix only: a bare `/jobs`
 * stays what it is on ComfyUI (not a route: ComfyUI serves its jobs API at
 * `/api/jobs` alone, and comfy-queue passes unknown paths to a worker). The
 * prefix is the tracker's own because comfy-queue's `/api/pqueue/jobs` and
 * `/api/pqueue/preview` mean something else. `{id}` is a job id or
 * `<batch id or name>:<index>`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { itemValues } from '../domain/batch-spec.js';
import { QueueError } from '../domain/errors.js';
import type { Job } from '../domain/job.js';
import { isTrackerStatus, TRACKER_STATUSES, type TrackerStatus } from '../domain/tracker-status.js';
import type { BatchService } from '../engine/batches.js';
import type { Engine } from '../engine/engine.js';
import { DEFAULT_EXTERNAL_WORKER, type ExternalOutput, type TrackerService } from '../engine/tracker.js';
import { type BatchRecord, countsWithCollection } from '../store/batch-types.js';
import { trackerJobJson } from './batch-json.js';
import { parseWith } from './validate.js';

export interface TrackerRouteOptions {
  engine: Engine;
  batches: BatchService;
  tracker: TrackerService;
  /** where uploaded outputs are stored (TrackerOptions.filesDir) */
  filesDir: string;
  now: () => number;
  /** whether a completed job's outputs are collected (null: collection is off); null for every job when absent */
  collected?: (job: Job) => Promise<boolean | null>;
}

const StatusBody = z.strictObject({
  status: z.enum(['working', 'complete', 'done', 'error', 'inactive', 'reset']),
  worker: z.string().min(1).max(200).optional(),
  output_url: z.string().max(4096).optional(),
  file: z.strictObject({ name: z.string().min(1).max(255), data: z.base64() }).optional(),
  message: z.string().max(4000).optional(),
});

const FlagBody = z
  .strictObject({ flagged: z.boolean().optional(), rerender: z.boolean().optional() })
  .optional()
  .nullable();

const WorkerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$/, 'worker: letters, digits, . _ : @ -');

const JOBS_LIMIT_MAX = 1_000;
const HOUR_MS = 3_600_000;

interface JobsQuery {
  status?: string | string[];
  batch?: string;
  from?: string;
  to?: string;
  q?: string;
  cursor?: string;
  limit?: string;
  offset?: string;
}

function statusesOf(raw: string | string[] | undefined): TrackerStatus[] {
  if (raw === undefined) return [];
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const s of parts)
    if (!isTrackerStatus(s))
      throw new QueueError(
        'INVALID_QUERY',
        `status must be among ${TRACKER_STATUSES.join(', ')}; got "${s.slice(0, 40)}"`,
      );
  return parts as TrackerStatus[];
}

/** Indexes, offsets and limits beyond this are refused (SQLite integers are 64-bit; no batch is near it). */
const MAX_INT_PARAM = 2 ** 31 - 1;

function intParam(raw: string | undefined, what: string, min: number): number | null {
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > MAX_INT_PARAM)
    throw new QueueError('INVALID_QUERY', `${what} must be an integer from ${min} to ${MAX_INT_PARAM}`);
  return n;
}

/** The indexes of a batch whose traits contain `text` (case ignored), or whose number it is. */
function matchingIndexes(batch: BatchRecord, text: string): number[] {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t) >= 1 && Number(t) <= batch.total ? [Number(t)] : [];
  const items = batch.spec.items;
  if (!items) return [];
  const combos = batch.total / batch.spec.count;
  const out: number[] = [];
  items.forEach((item, b) => {
    if (Object.values(item).some((v) => String(v).toLowerCase().includes(t)))
      for (let c = 1; c <= combos; c++) out.push(b * combos + c);
  });
  return out;
}

export function registerTrackerRoutes(app: FastifyInstance, o: TrackerRouteOptions): void {
  const { engine, batches, tracker } = o;
  /** A job's batch record, read once per request. */
  const batchOf = async (job: Job, cache: Map<number, BatchRecord | null>): Promise<BatchRecord | null> => {
    if (!job.batch) return null;
    if (!cache.has(job.batch.id)) cache.set(job.batch.id, await engine.store.getBatch(job.batch.id));
    return cache.get(job.batch.id) ?? null;
  };
  const collected = async (job: Job) => (job.status === 'completed' && o.collected ? o.collected(job) : null);
  const json = async (job: Job) => trackerJobJson(job, await batchOf(job, new Map()), await collected(job));

  for (const base of ['', '/api/pqueue/tracker']) {
    app.get<{ Querystring: { worker?: string } }>(`${base}/next-job`, async (req, reply) => {
      const worker = parseWith(WorkerName, req.query.worker ?? DEFAULT_EXTERNAL_WORKER, 'INVALID_QUERY');
      const job = await tracker.nextJob(worker);
      if (!job) return reply.code(204).send();
      const batch = await batchOf(job, new Map());
      const values = batch && job.batch ? itemValues(batch.spec, job.batch.index) : null;
      return {
        job_id: job.id,
        index: job.batch?.index ?? null,
        batch: batch?.name ?? null,
        seed: values?.seed ?? null,
        traits: values?.traits ?? null,
        sweep: values?.sweep ?? null,
        prompt: job.prompt,
        worker,
        lease_until: job.leaseUntil,
      };
    });

    app.post<{ Params: { id: string } }>(`${base}/job/:id/status`, async (req) => {
      const b = parseWith(StatusBody, req.body);
      const job = await tracker.report(req.params.id, {
        status: b.status === 'reset' ? 'inactive' : b.status,
        worker: b.worker,
        outputUrl: b.output_url,
        file: b.file ? { name: b.file.name, data: Buffer.from(b.file.data, 'base64') } : undefined,
        message: b.message,
      });
      return json(job);
    });

    app.post<{ Params: { id: string } }>(`${base}/job/:id/flag`, async (req) => {
      const b = parseWith(FlagBody, req.body) ?? {};
      return json(await tracker.flag(req.params.id, { flagged: b.flagged, rerender: b.rerender }));
    });

    app.post<{ Params: { id: string } }>(`${base}/job/:id/reset`, async (req) =>
      json(await tracker.reset(req.params.id)),
    );

    // Not at the bare path: see the head of this file.
    if (base !== '')
      app.get<{ Querystring: JobsQuery }>(`${base}/jobs`, async (req) => {
        const q = req.query;
        const statuses = statusesOf(q.status);
        const limit = Math.min(intParam(q.limit, 'limit', 1) ?? 100, JOBS_LIMIT_MAX);
        const batch = q.batch ? await batches.find(q.batch) : null;
        let after: { batchId: number; index: number } | null = null;
        if (q.cursor) {
          const m = /^(\d+):(\d+)$/.exec(q.cursor);
          if (!m) throw new QueueError('INVALID_CURSOR', 'cursor must be the next_cursor of a previous page');
          after = { batchId: Number(m[1]), index: Number(m[2]) };
        }
        let indexes: number[] | null = null;
        if (q.q?.trim()) {
          if (batch) indexes = matchingIndexes(batch, q.q);
          else if (/^\d+$/.test(q.q.trim())) indexes = [Number(q.q.trim())];
          else throw new QueueError('INVALID_QUERY', 'a text search needs batch=<id or name>');
        }
        const page = await engine.store.listBatchItems({
          batchId: batch?.id ?? null,
          statuses,
          collecting: batches.collecting,
          fromIndex: intParam(q.from, 'from', 1),
          toIndex: intParam(q.to, 'to', 1),
          indexes,
          after,
          offset: intParam(q.offset, 'offset', 0) ?? 0,
          limit,
        });
        const cache = new Map<number, BatchRecord | null>();
        const jobs = [];
        for (const job of page.jobs)
          jobs.push(trackerJobJson(job, await batchOf(job, cache), await collected(job)));
        return { jobs, next_cursor: page.next ? `${page.next.batchId}:${page.next.index}` : null };
      });

    app.get(`${base}/stats`, async () => {
      const now = o.now();
      const [counts, queue, totals, perMinute, running] = await Promise.all([
        engine.store.trackerCounts().then((c) => countsWithCollection(c, batches.collecting)),
        engine.store.counts(),
        engine.store.workerTotals(now - HOUR_MS),
        engine.store.finishedPerMinute(now - HOUR_MS),
        engine.store.listInProgress(),
      ]);
      const workers: Record<string, { working: number; completed: number; failed: number }> = {};
      for (const t of totals) workers[t.worker] = { working: 0, completed: t.completed, failed: t.failed };
      for (const j of running) {
        if (!j.worker) continue;
        workers[j.worker] ??= { working: 0, completed: 0, failed: 0 };
        workers[j.worker]!.working++;
      }
      return {
        counts: counts.tracker,
        total: Object.values(counts.tracker).reduce((a, b) => a + b, 0),
        queue,
        workers,
        per_minute: perMinute.map((m) => ({ minute: m.minute, completed: m.completed, failed: m.failed })),
      };
    });

    app.get<{ Params: { id: string } }>(`${base}/preview/:id`, async (req) => {
      const job = await tracker.resolve(req.params.id);
      const item = await json(job);
      const file = externalFile(job);
      const hasImage = file?.file !== undefined || file?.url !== undefined;
      return {
        ...item,
        image: hasImage ? `${base}/preview/${encodeURIComponent(req.params.id)}/image` : null,
      };
    });

    app.get<{ Params: { id: string } }>(`${base}/preview/:id/image`, async (req, reply) => {
      const job = await tracker.resolve(req.params.id);
      const file = externalFile(job);
      if (file?.file) {
        const path = join(o.filesDir, file.file);
        await stat(path).catch(() => {
          throw new QueueError('NOT_FOUND', 'The stored output is gone.');
        });
        return reply.type(mimeOf(path)).send(createReadStream(path));
      }
      if (file?.url) return reply.redirect(file.url);
      throw new QueueError('NOT_FOUND', 'The job has no output reported by an external worker.');
    });
  }
}

function externalFile(job: Job): ExternalOutput | null {
  const files = (job.outputs?.external as { files?: ExternalOutput[] } | undefined)?.files;
  return files?.[0] ?? null;
}

function mimeOf(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return (
    { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' }[ext] ??
    'application/octet-stream'
  );
}

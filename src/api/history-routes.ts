/**
 * comfy-queue's history (docs/api.md, "History"): the listing with filters,
 * text search and a keyset cursor for every sort; thumbnails and previews
 * that carry the job's workflow (drop one on ComfyUI's canvas to load it);
 * the workflow file; deleting history by id or by filter.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ComfyHttpError } from '../comfy/client.js';
import { encodeCursor } from '../domain/cursor.js';
import { QueueError } from '../domain/errors.js';
import { displayName, isFinished, type Job } from '../domain/job.js';
import {
  type OutputFileRef,
  outputFileAt,
  producedFile,
  thumbnailSource,
} from '../domain/thumbnail-source.js';
import type { Engine } from '../engine/engine.js';
import { deleteHistory, historyStatuses } from '../engine/history-prune.js';
import type { ThumbnailQueue } from '../engine/thumbnail-queue.js';
import { PLACEHOLDER_PNG, withTextChunks, workflowTextChunks } from '../media/png-metadata.js';
import { shrinkToPng, ThumbnailError } from '../media/thumbnail.js';
import { historyJobJson } from './history-json.js';
import {
  type HistoryFilterParams,
  type HistoryParams,
  historyFilter,
  historyQuery,
} from './history-query.js';
import { parseUuidParam, parseWith } from './validate.js';

export interface HistoryOptions {
  /** makes missing thumbnails on request; absent: the placeholder is served */
  thumbnails?: ThumbnailQueue;
  /** the bytes of a file a worker holds, for previews; absent: previews are 404 */
  fetchFile?(worker: string, file: OutputFileRef): Promise<Buffer>;
}

export const PREVIEW_DEFAULT_MAX = 512;
const PREVIEW_MAX = 2048;

const promptId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const HistoryDeleteBody = z.union([
  z.strictObject({ prompt_ids: z.array(promptId).min(1).max(100_000) }),
  z.strictObject({
    filter: z.strictObject({
      status: z.union([z.string(), z.array(z.string())]).optional(),
      since: z.string().optional(),
      until: z.string().optional(),
      q: z.string().optional(),
      workflow_id: z.string().optional(),
      worker: z.string().optional(),
      flagged: z.boolean().optional(),
    }),
  }),
]);

/** A file name for a job's downloads: its display name, safe in any file system. */
function fileStem(job: Job): string {
  const stem = displayName(job)
    .replace(/[^\p{L}\p{N} ._-]+/gu, '_')
    .trim()
    .slice(0, 80);
  return stem || job.id;
}

function attachment(name: string, disposition: 'attachment' | 'inline' = 'attachment'): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function sendPng(reply: FastifyReply, png: Buffer, job: Job, kind: 'image' | 'placeholder', cache: string) {
  return reply
    .header('content-type', 'image/png')
    .header('cache-control', cache)
    .header('content-disposition', attachment(`${fileStem(job)}.png`, 'inline'))
    .header('x-comfy-queue-image', kind)
    .send(withTextChunks(png, workflowTextChunks(job)));
}

export function registerHistoryRoutes(app: FastifyInstance, engine: Engine, opts: HistoryOptions = {}): void {
  const store = engine.store;

  app.get<{ Querystring: HistoryParams }>('/api/pqueue/history', async (req) => {
    const q = historyQuery(req.query);
    const page = await store.listJobs(q);
    const thumbs = await store.withThumbnails(page.jobs.map((j) => j.id));
    const out: Record<string, unknown> = {
      jobs: page.jobs.map((j) => historyJobJson(j, thumbs.has(j.id))),
      has_more: page.hasMore,
      next_cursor: page.nextCursor
        ? encodeCursor({ sort: q.sort, order: q.order, ...page.nextCursor })
        : null,
    };
    if (page.total !== null) out.total = page.total;
    return out;
  });

  app.get<{ Params: { id: string } }>('/api/pqueue/history/thumb/:id', async (req, reply) => {
    const job = await engine.getOrThrow(parseUuidParam(req.params.id));
    const thumb = await store.getThumbnail(job.id);
    if (thumb) return sendPng(reply, thumb.png, job, 'image', 'private, max-age=86400');
    if (isFinished(job.status)) opts.thumbnails?.request(job);
    return sendPng(reply, PLACEHOLDER_PNG, job, 'placeholder', 'no-cache');
  });

  app.get<{
    Querystring: {
      id?: string;
      node?: string;
      index?: string;
      filename?: string;
      subfolder?: string;
      type?: string;
      max?: string;
    };
  }>('/api/pqueue/preview', async (req, reply) => {
    const q = req.query;
    const max = q.max === undefined ? PREVIEW_DEFAULT_MAX : Number(q.max);
    if (!Number.isInteger(max) || max < 16 || max > PREVIEW_MAX)
      throw new QueueError('INVALID_QUERY', `max must be an integer from 16 to ${PREVIEW_MAX}`);
    let job: Job;
    let file: OutputFileRef | null;
    if (q.filename) {
      file = { filename: q.filename, subfolder: q.subfolder ?? '', type: q.type ?? 'output' };
      const id = q.id
        ? parseUuidParam(q.id)
        : await store.jobForFile(file.type, file.subfolder, file.filename);
      if (!id) throw new QueueError('NOT_FOUND', 'No job produced this file.');
      job = await engine.getOrThrow(id);
      // Only the job's own outputs: any other name would reach the worker's /view on comfy-queue's say-so.
      if (!producedFile(job.outputs, file))
        throw new QueueError('NOT_FOUND', 'The job did not produce this file.');
    } else if (q.id) {
      job = await engine.getOrThrow(parseUuidParam(q.id));
      const index = q.index === undefined ? 0 : Number(q.index);
      if (!Number.isInteger(index) || index < 0) throw new QueueError('INVALID_QUERY', 'index must be ≥ 0');
      file = q.node === undefined ? thumbnailSource(job.outputs) : outputFileAt(job.outputs, q.node, index);
    } else {
      throw new QueueError('INVALID_QUERY', 'Give id (with node and index) or filename, subfolder and type.');
    }
    if (!file) throw new QueueError('NOT_FOUND', 'The job has no such output.');
    if (!job.worker || !opts.fetchFile) throw new QueueError('NOT_FOUND', 'No worker holds this output.');
    let bytes: Buffer;
    try {
      bytes = await opts.fetchFile(job.worker, file);
    } catch (err) {
      if (err instanceof ComfyHttpError && (err.status === 400 || err.status === 404))
        throw new QueueError('NOT_FOUND', `The worker no longer has ${file.filename}.`);
      throw new QueueError(
        'WORKER_UNAVAILABLE',
        `The worker did not give the file: ${(err as Error).message}`,
      );
    }
    try {
      const image = await shrinkToPng(bytes, max);
      return sendPng(reply, image.png, job, 'image', 'private, max-age=86400');
    } catch (err) {
      if (!(err instanceof ThumbnailError)) throw err;
      return sendPng(reply, PLACEHOLDER_PNG, job, 'placeholder', 'no-cache');
    }
  });

  app.get<{ Params: { id: string } }>('/api/pqueue/jobs/:id/workflow', async (req, reply) => {
    const job = await engine.getOrThrow(parseUuidParam(req.params.id));
    const ui = job.workflow !== null && job.workflow !== undefined;
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', attachment(`${fileStem(job)}${ui ? '' : '_api'}.json`))
      .header('x-comfy-queue-workflow', ui ? 'ui' : 'api')
      .send(JSON.stringify(ui ? job.workflow : job.prompt, null, 2));
  });

  app.post('/api/pqueue/history/delete', async (req) => {
    const b = parseWith(HistoryDeleteBody, req.body);
    if ('prompt_ids' in b) {
      const statuses = historyStatuses(undefined);
      const deleted = await store.delete(b.prompt_ids, statuses);
      if (deleted.length) engine.bus.publish({ type: 'job.deleted', ids: deleted });
      const gone = new Set(deleted);
      const skipped = [];
      for (const id of new Set(b.prompt_ids)) {
        if (gone.has(id)) continue;
        const job = await store.get(id);
        skipped.push({ id, reason: job ? `the job is ${job.status}, not finished` : 'no job has this id' });
      }
      return { deleted: deleted.length, skipped };
    }
    const filter = b.filter as HistoryFilterParams;
    return { deleted: await deleteHistory(store, engine.bus, historyFilter(filter)), skipped: [] };
  });
}

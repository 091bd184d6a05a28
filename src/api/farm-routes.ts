/**
 * /api/farm: the render farm's workers as first-class citizens (docs/farm.md).
 * List them with their state, jobs, capabilities and statistics; add a
 * ComfyUI at run time; change its tags and capacity; drain, pause or resume
 * it; lift a quarantine or a workflow block; remove it (its jobs go back to
 * the queue without spending a retry).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { QueueError } from '../domain/errors.js';
import type { Engine } from '../engine/engine.js';
import { isWorkerName, parseWorkerSpec } from '../farm/worker-id.js';
import { applyRecord } from '../farm/worker-mode.js';
import type { WorkerRecord } from '../store/job-store.js';
import { parseWith } from './validate.js';

/** Starts driving a push worker just registered (or, with several servers, has one of them drive it). */
export type AddPushWorker = (rec: WorkerRecord) => Promise<void>;
/** Takes a removed worker out of the shared list. */
export type DropPushWorker = (id: string) => void | Promise<void>;

export interface FarmOptions {
  addPushWorker: AddPushWorker;
  dropPushWorker: DropPushWorker;
  /** tells the other servers of the database that workers' records changed (src/cluster) */
  changed?: () => void;
  /** with several servers: the state of a worker another server drives, as that server last said */
  elsewhere?: (id: string) => { connection: string; server: string | null } | null;
  /** with several servers: the live servers and the workers each drives (GET /api/farm/servers) */
  servers?: () => Promise<
    { id: string; name: string; url: string | null; seen_at: number; workers: string[] }[]
  >;
  now: () => number;
}

const tag = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/, 'a tag is letters, digits, ".", "_", ":" or "-"');
const tags = z.array(tag).max(32);
const capacity = z.number().int().min(1).max(16);

const AddBody = z.strictObject({
  url: z.string().min(1).max(2000),
  name: z.string().min(1).max(63).optional(),
  tags: tags.optional(),
  capacity: capacity.optional(),
});

const PatchBody = z.strictObject({
  tags: tags.optional(),
  capacity: capacity.optional(),
  mode: z.enum(['active', 'draining', 'paused']).optional(),
  /** lift a quarantine */
  release: z.literal(true).optional(),
  /** lift workflow blocks: every one (true) or one workflow key */
  unblock: z.union([z.literal(true), z.string().min(1).max(200)]).optional(),
});

const HOUR_MS = 3_600_000;

export function registerFarmRoutes(app: FastifyInstance, engine: Engine, opts: FarmOptions): void {
  const registry = engine.registry;

  const workerJson = (
    rec: WorkerRecord,
    totals: Map<string, { completed: number; failed: number; meanMs: number | null; busyMs: number }>,
  ) => {
    const local = engine.workers.get(rec.id);
    // An agent connected to another server has a port here too, disconnected.
    const remote = local && local.state !== 'offline' ? null : (opts.elsewhere?.(rec.id) ?? null);
    const port = remote ? undefined : local;
    const health = registry.health(rec.id);
    const caps = registry.capabilities(rec.id);
    const online = (port?.state ?? remote?.connection) === 'online';
    const live = { id: rec.id, online, freeSlots: port?.freeSlots ?? 0 };
    const t = totals.get(rec.id);
    return {
      id: rec.id,
      kind: rec.kind,
      source: rec.source,
      url: rec.url,
      state: port ? registry.stateOf(live) : registry.stateElsewhere(rec.id, online),
      connection: port?.state ?? remote?.connection ?? 'offline',
      transport: port?.transport ?? null,
      /** with several servers: whether this server drives it (false: another one does) */
      here: remote === null,
      server: remote?.server ?? null,
      tags: rec.tags,
      capacity: rec.capacity,
      mode: rec.mode,
      jobs: port ? port.heldJobIds() : [],
      waiting_jobs: port ? port.waitingJobs().map((j) => j.id) : [],
      quarantined_until: registry.isQuarantined(rec.id) ? health.quarantinedUntil : null,
      failure_streak: health.streak,
      blocked_workflows: health.blocked,
      capabilities: caps ? { node_types: caps.nodeTypes.size, models: [...caps.models].sort() } : null,
      system_stats: port?.systemStats ?? null,
      stats: {
        window_ms: HOUR_MS,
        completed: t?.completed ?? 0,
        failed: t?.failed ?? 0,
        mean_ms: t?.meanMs ?? null,
        busy_share: t ? Math.min(1, t.busyMs / HOUR_MS) : 0,
      },
      created_at: rec.createdAt,
      updated_at: rec.updatedAt,
    };
  };

  const totalsNow = async () =>
    new Map((await engine.store.workerTotals(opts.now() - HOUR_MS)).map((t) => [t.worker, t]));

  const find = (id: string): WorkerRecord => {
    const rec = registry.get(id);
    if (!rec) throw new QueueError('WORKER_NOT_FOUND', `No worker is named ${id.slice(0, 80)}.`);
    return rec;
  };

  app.get('/api/farm/servers', async () => ({ servers: opts.servers ? await opts.servers() : [] }));

  app.get('/api/farm/workers', async () => {
    const totals = await totalsNow();
    return { workers: registry.list().map((r) => workerJson(r, totals)) };
  });

  app.get<{ Params: { id: string } }>('/api/farm/workers/:id', async (req) =>
    workerJson(find(req.params.id), await totalsNow()),
  );

  app.post('/api/farm/workers', async (req, reply) => {
    const b = parseWith(AddBody, req.body);
    if (b.name !== undefined && !isWorkerName(b.name))
      throw new QueueError(
        'INVALID_BODY',
        'name: a worker name is 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit.',
      );
    const spec = parseWorkerSpec(b.name ? `${b.name}=${b.url}` : b.url);
    if ('error' in spec) throw new QueueError('INVALID_BODY', `url: ${spec.error}.`);
    if (registry.get(spec.id) || engine.workers.has(spec.id))
      throw new QueueError('DUPLICATE_WORKER', `A worker named ${spec.id} exists already.`);
    const rec = await registry.upsert(spec.id, {
      kind: 'push',
      source: 'api',
      url: spec.url,
      tags: b.tags ?? [],
      capacity: b.capacity ?? 2,
      mode: 'active',
    });
    await opts.addPushWorker(rec);
    opts.changed?.();
    return reply.code(201).send(workerJson(rec, await totalsNow()));
  });

  app.patch<{ Params: { id: string } }>('/api/farm/workers/:id', async (req) => {
    const b = parseWith(PatchBody, req.body);
    find(req.params.id);
    const id = req.params.id;
    let rec = await registry.upsert(id, { tags: b.tags, capacity: b.capacity, mode: b.mode });
    if (b.release) await registry.recordHealth(id, { type: 'released' });
    if (b.unblock !== undefined)
      await registry.recordHealth(id, {
        type: 'unblocked',
        workflowKey: b.unblock === true ? undefined : b.unblock,
      });
    rec = registry.get(id) ?? rec;
    const port = engine.workers.get(id);
    if (port) await applyRecord(port, rec, { capacity: b.capacity !== undefined });
    opts.changed?.();
    engine.pump();
    return workerJson(rec, await totalsNow());
  });

  app.delete<{ Params: { id: string } }>('/api/farm/workers/:id', async (req) => {
    const rec = find(req.params.id);
    if (engine.workers.has(rec.id)) await engine.removeWorker(rec.id);
    else await registry.remove(rec.id);
    await opts.dropPushWorker(rec.id);
    opts.changed?.();
    return { removed: rec.id };
  });
}

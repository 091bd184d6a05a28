/**
 * Which worker a job goes to, as a pure function over the job's needs and
 * snapshots of the workers. Able workers first (online, taking work, with
 * room, with every node type, model and tag the job needs, not blocked for
 * its workflow); among them the one that last loaded the same checkpoint
 * (no model load), then the one idle longest. When nobody can take the job,
 * the answer says why in a sentence a person can act on.
 */
import type { JobNeeds } from './capabilities.js';

export type FarmWorkerState = 'online' | 'offline' | 'draining' | 'paused' | 'quarantined';

export interface WorkerSnapshot {
  id: string;
  state: FarmWorkerState;
  /** how many more jobs it may take now */
  freeSlots: number;
  tags: readonly string[];
  nodeTypes: ReadonlySet<string> | null;
  models: ReadonlySet<string> | null;
  /** the checkpoint of the last job it ran */
  lastCheckpoint: string | null;
  /** ms since epoch when it last became idle; null while busy */
  idleSince: number | null;
  /** workflows it must not be given again (it failed them twice) */
  blockedWorkflows: ReadonlySet<string>;
}

export type RouteAnswer = { worker: string } | { worker: null; reason: string };

/** Why `w` cannot run a job with these needs, or null when it can (room aside). */
export function unableReason(needs: JobNeeds, w: WorkerSnapshot): string | null {
  if (w.blockedWorkflows.has(needs.workflowKey)) return `${w.id} failed this workflow twice`;
  const tag = needs.tags.find((t) => !w.tags.includes(t));
  if (tag !== undefined) return `${w.id} lacks the tag ${tag}`;
  if (w.nodeTypes) {
    const node = needs.nodeTypes.find((n) => !w.nodeTypes!.has(n));
    if (node !== undefined) return `${w.id} lacks the node type ${node}`;
  }
  if (w.models) {
    const model = needs.models.find((m) => !w.models!.has(m));
    if (model !== undefined) return `${w.id} lacks the model ${model}`;
  }
  return null;
}

/** Whether the worker could run the job at all, whatever its state and load. */
export function canEverRun(needs: JobNeeds, w: WorkerSnapshot): boolean {
  return unableReason(needs, w) === null;
}

/** The workers that can take the job now, best first. */
export function rankWorkers(needs: JobNeeds, workers: readonly WorkerSnapshot[]): WorkerSnapshot[] {
  return workers
    .filter((w) => w.state === 'online' && w.freeSlots > 0 && unableReason(needs, w) === null)
    .sort(
      (a, b) =>
        affinity(needs, b) - affinity(needs, a) ||
        (a.idleSince ?? Number.POSITIVE_INFINITY) - (b.idleSince ?? Number.POSITIVE_INFINITY) ||
        b.freeSlots - a.freeSlots ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}

function affinity(needs: JobNeeds, w: WorkerSnapshot): number {
  return needs.checkpoint !== null && w.lastCheckpoint === needs.checkpoint ? 1 : 0;
}

export function route(needs: JobNeeds, workers: readonly WorkerSnapshot[]): RouteAnswer {
  const best = rankWorkers(needs, workers)[0];
  if (best) return { worker: best.id };
  return { worker: null, reason: waitingReason(needs, workers) };
}

/** The sentence shown on a job no worker can take now. */
export function waitingReason(needs: JobNeeds, workers: readonly WorkerSnapshot[]): string {
  if (workers.length === 0) return 'no worker is registered';
  const online = workers.filter((w) => w.state === 'online');
  const able = workers.filter((w) => unableReason(needs, w) === null);
  if (able.length === 0) {
    const pool = online.length > 0 ? online : workers;
    const scope = online.length > 0 ? 'online worker' : 'worker';
    const node = needs.nodeTypes.find((n) => pool.every((w) => w.nodeTypes && !w.nodeTypes.has(n)));
    if (node !== undefined) return `no ${scope} has the node type ${node}`;
    const model = needs.models.find((m) => pool.every((w) => w.models && !w.models.has(m)));
    if (model !== undefined) return `no ${scope} has the model ${model}`;
    const tag = needs.tags.find((t) => pool.every((w) => !w.tags.includes(t)));
    if (tag !== undefined) return `no ${scope} has the tag ${tag}`;
    if (pool.every((w) => w.blockedWorkflows.has(needs.workflowKey)))
      return `every ${scope} has failed this workflow twice`;
    return `no ${scope} has everything this job needs (${pool.map((w) => unableReason(needs, w)).join('; ')})`;
  }
  const ableOnline = able.filter((w) => w.state === 'online');
  if (ableOnline.length > 0) return `waiting for a free slot on ${ableOnline.map((w) => w.id).join(', ')}`;
  const states = able.map((w) => `${w.id} is ${w.state}`).join(', ');
  return `every worker able to run it is away (${states})`;
}

/**
 * The job a worker with a free slot takes next, from pending jobs in run
 * order: the first it can run, with model affinity. Among the first `window`
 * jobs it can run, one of its own checkpoint comes first, and one whose
 * checkpoint another online worker able to run it has loaded is left to that
 * worker (it runs there without a model load). Nothing starves: a job left
 * to another worker is that worker's own-checkpoint job, taken when it has
 * room; past the window, the first job it can run is taken.
 */
export function pickNext<T extends { needs: JobNeeds }>(
  me: WorkerSnapshot,
  others: readonly WorkerSnapshot[],
  jobs: Iterable<T>,
  window: number,
): T | null {
  let first: T | null = null;
  let seen = 0;
  for (const job of jobs) {
    if (rankWorkers(job.needs, [me]).length === 0) continue;
    first ??= job;
    const ckpt = job.needs.checkpoint;
    if (ckpt === null || ckpt === me.lastCheckpoint) return job;
    const loadedElsewhere = others.some(
      (o) => o.id !== me.id && o.state === 'online' && o.lastCheckpoint === ckpt && canEverRun(job.needs, o),
    );
    if (!loadedElsewhere) return job;
    if (++seen >= window) break;
  }
  return first;
}

/**
 * Acting on many pending jobs at once: a selection (listed ids, or every
 * pending job matching a search, less some ids) deleted, moved to the top or
 * the bottom; one job moved up or down one place. The places come from
 * domain/queue-moves.ts; the engine publishes the change and takes back jobs
 * waiting on workers that now have others before them.
 */

import { QueueError } from '../domain/errors.js';
import { byOne, compareRunOrder, type QueuePlace, toBottom, toTop } from '../domain/queue-moves.js';
import type { Engine } from './engine.js';

/** Which pending jobs: the listed ones, or all that match `q` (all pending without it), less `except`. */
export type Selection =
  | { ids: readonly string[] }
  | { match: { q?: string | null }; except?: readonly string[] };

export type BulkAction = 'delete' | 'top' | 'bottom';

export interface BulkResult {
  action: BulkAction;
  /** jobs the action changed */
  count: number;
}

/** Every pending job's place, in run order (no graphs: cheap for 100,000 jobs). */
async function pendingPlaces(engine: Engine, q?: string | null): Promise<QueuePlace[]> {
  const page = await engine.store.listJobs({
    statuses: ['pending'],
    text: q?.trim() ? q : null,
    limit: null,
    countTotal: false,
  });
  return page.jobs
    .map((j) => ({
      id: j.id,
      priority: j.priority,
      fair: j.fair,
      position: j.position,
      createdAt: j.createdAt,
    }))
    .sort(compareRunOrder);
}

/** The ids a selection names, among the pending jobs (`all`: every pending job, when already read). */
export async function resolveSelection(
  engine: Engine,
  sel: Selection,
  all?: QueuePlace[],
): Promise<Set<string>> {
  if ('ids' in sel) return new Set(sel.ids);
  const except = new Set(sel.except ?? []);
  const q = sel.match.q?.trim();
  const matching = q ? await pendingPlaces(engine, q) : (all ?? (await pendingPlaces(engine)));
  return new Set(matching.filter((p) => !except.has(p.id)).map((p) => p.id));
}

export async function bulk(engine: Engine, action: BulkAction, sel: Selection): Promise<BulkResult> {
  if (action === 'delete') {
    // Pending jobs only: a selection never deletes a running or finished job.
    const ids = await resolveSelection(engine, sel);
    if (ids.size === 0) return { action, count: 0 };
    const deleted = await engine.store.delete([...ids], ['pending']);
    if (deleted.length) engine.bus.publish({ type: 'job.deleted', ids: deleted });
    return { action, count: deleted.length };
  }
  const all = await pendingPlaces(engine);
  const ids = await resolveSelection(engine, sel, all);
  const selected = all.filter((p) => ids.has(p.id));
  const rest = all.filter((p) => !ids.has(p.id));
  const placements =
    action === 'top' ? toTop(selected, rest[0] ?? null) : toBottom(selected, rest.at(-1) ?? null);
  const count = placements.length ? await engine.store.placePending(placements) : 0;
  if (count) engine.queueMoved(placements.map((p) => p.id));
  return { action, count };
}

/** Moves a pending job one place up (-1) or down (+1) in run order; false at the edge. */
export async function moveByOne(engine: Engine, id: string, by: -1 | 1): Promise<boolean> {
  const job = await engine.getOrThrow(id);
  if (job.status !== 'pending')
    throw new QueueError('NOT_PENDING', `Job ${id} is no longer pending; it cannot move.`);
  const all = await pendingPlaces(engine);
  const i = all.findIndex((p) => p.id === id);
  if (i < 0) throw new QueueError('NOT_PENDING', `Job ${id} is no longer pending; it cannot move.`);
  const placements = byOne(all[i]!, all[i + by] ?? null);
  if (!placements.length) return false;
  await engine.store.placePending(placements);
  engine.queueMoved(placements.map((p) => p.id));
  return true;
}

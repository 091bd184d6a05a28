/**
 * ComfyUI's queue `number` ↔ comfy-queue's (priority, position), in one pure
 * place (docs/comfyui-compat.md). ComfyUI runs the lowest number first;
 * comfy-queue runs the highest priority first, then the lowest position.
 *
 * - number shown for a job = position − priority × PRIORITY_SPAN, so sorting
 *   by number gives the run order (while |position| < PRIORITY_SPAN).
 * - POST /prompt without `number`: priority 0, appended (position = last + 1,
 *   like ComfyUI's counter).
 * - `front: true`: ahead of every pending job: the highest pending priority
 *   (at least 0), at the front of it.
 * - an explicit `number` n: priority 0, position n — lower runs sooner, as in
 *   ComfyUI, among the jobs of priority 0.
 */

export const PRIORITY_SPAN = 1_000_000_000;

export function comfyNumber(job: { priority: number; position: number }): number {
  return job.priority === 0 ? job.position : job.position - job.priority * PRIORITY_SPAN;
}

export interface Placement {
  priority: number;
  front: boolean;
  /** explicit position, null to let the store append */
  position: number | null;
}

/** Where a job submitted through POST /prompt goes; `topPriority` is the highest pending priority, if any. */
export function placementFor(
  body: { number?: number | null; front?: boolean },
  topPriority: number | null,
): Placement {
  if (typeof body.number === 'number' && Number.isFinite(body.number)) {
    return { priority: 0, front: false, position: body.number };
  }
  if (body.front) return { priority: Math.max(0, topPriority ?? 0), front: true, position: null };
  return { priority: 0, front: false, position: null };
}

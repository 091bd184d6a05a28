/**
 * Where jobs go when a person moves them in the queue: a selection to the
 * top or the bottom, one job up or down one place. Pure: it reads the queue
 * places (priority, position) of the jobs involved and answers the new ones.
 *
 * Run order is priority (high first), then the fair-share tag (low first,
 * store/sqlite/fair-share.ts), then position (low first). Moving to
 * the top gives the selection the highest pending priority and positions
 * before the first job, at its tag; to the bottom, the lowest priority and
 * positions after the last, at its tag. A move by one place trades places
 * with the neighbour in run order (priority, tag and position), so the job
 * passes exactly one other job whatever their priorities.
 */

export interface QueuePlace {
  id: string;
  priority: number;
  /** the fair-share tag */
  fair: number;
  position: number;
  createdAt: number;
}

export interface Placement {
  id: string;
  priority: number;
  fair: number;
  position: number;
}

/** Run order, as the store's: priority descending, fair-share tag and position ascending, then created_at and id. */
export function compareRunOrder(a: QueuePlace, b: QueuePlace): number {
  return (
    b.priority - a.priority ||
    a.fair - b.fair ||
    a.position - b.position ||
    a.createdAt - b.createdAt ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/**
 * `selected` in run order go before `first` (the first pending job not
 * selected), or stay where they are when nothing else is pending.
 */
export function toTop(selected: readonly QueuePlace[], first: QueuePlace | null): Placement[] {
  if (!first) return [];
  const ordered = [...selected].sort(compareRunOrder);
  const priority = Math.max(first.priority, ...ordered.map((s) => s.priority));
  const same = priority === first.priority;
  const start = same ? first.position - ordered.length : 0;
  const fair = same ? first.fair : 0;
  return ordered.map((s, i) => ({ id: s.id, priority, fair, position: start + i }));
}

/** `selected` in run order go after `last` (the last pending job not selected). */
export function toBottom(selected: readonly QueuePlace[], last: QueuePlace | null): Placement[] {
  if (!last) return [];
  const ordered = [...selected].sort(compareRunOrder);
  const priority = Math.min(last.priority, ...ordered.map((s) => s.priority));
  const same = priority === last.priority;
  const start = same ? last.position + 1 : 0;
  const fair = same ? last.fair : 0;
  return ordered.map((s, i) => ({ id: s.id, priority, fair, position: start + i }));
}

/** The job and its neighbour trade places; none when there is no neighbour on that side. */
export function byOne(job: QueuePlace, neighbour: QueuePlace | null): Placement[] {
  if (!neighbour) return [];
  return [
    { id: job.id, priority: neighbour.priority, fair: neighbour.fair, position: neighbour.position },
    { id: neighbour.id, priority: job.priority, fair: job.fair, position: job.position },
  ];
}

/**
 * Drag-and-drop reordering of pending cards, as the server understands it:
 * jobs run by priority, then position. A card dropped among cards of another
 * priority takes that priority; then the cards of its priority are sent to
 * POST /api/pqueue/reorder in their new order. Pure.
 */
export interface Orderable {
  prompt_id: string;
  priority: number;
}

export interface ReorderPlan {
  /** the moved card's new priority, or null when it keeps its own */
  priority: number | null;
  /** the ids of the target priority, in their new run order */
  ids: string[];
}

/** `cards` with `id` moved before `beforeId` (null: to the end); `priority` replaces its priority when given. */
export function moveCard<T extends Orderable>(
  cards: readonly T[],
  id: string,
  beforeId: string | null,
  priority: number | null = null,
): T[] {
  const moving = cards.find((c) => c.prompt_id === id);
  if (!moving) return [...cards];
  const rest = cards.filter((c) => c.prompt_id !== id);
  const at = beforeId === null ? rest.length : rest.findIndex((c) => c.prompt_id === beforeId);
  const moved = priority === null ? moving : { ...moving, priority };
  const i = at < 0 ? rest.length : at;
  return [...rest.slice(0, i), moved, ...rest.slice(i)];
}

export function reorderPlan(cards: readonly Orderable[], id: string, beforeId: string | null): ReorderPlan | null {
  if (id === beforeId) return null;
  const from = cards.findIndex((c) => c.prompt_id === id);
  if (from < 0) return null;
  const next = moveCard(cards, id, beforeId);
  if (next.every((c, i) => c.prompt_id === cards[i]?.prompt_id)) return null;
  const to = next.findIndex((c) => c.prompt_id === id);
  const own = cards[from]!.priority;
  const neighbour = next[to + 1] ?? next[to - 1];
  const target = neighbour ? neighbour.priority : own;
  return {
    priority: target === own ? null : target,
    ids: next.filter((c) => c.prompt_id === id || c.priority === target).map((c) => c.prompt_id),
  };
}

/**
 * The queue list's selection: listed ids, or "every pending job matching a
 * search" less the ones unticked since — so 100,000 jobs are selected without
 * the page holding their ids. Pure.
 */
import type { QueueSelection } from '../api/types.js';

export type Selection =
  | { kind: 'ids'; ids: ReadonlySet<string> }
  | { kind: 'all'; q: string; total: number; except: ReadonlySet<string> };

export const NONE: Selection = { kind: 'ids', ids: new Set() };

export function isSelected(sel: Selection, id: string): boolean {
  return sel.kind === 'ids' ? sel.ids.has(id) : !sel.except.has(id);
}

export function selectedCount(sel: Selection): number {
  return sel.kind === 'ids' ? sel.ids.size : Math.max(0, sel.total - sel.except.size);
}

export function toggle(sel: Selection, id: string, on: boolean): Selection {
  if (sel.kind === 'ids') {
    const ids = new Set(sel.ids);
    if (on) ids.add(id);
    else ids.delete(id);
    return { kind: 'ids', ids };
  }
  const except = new Set(sel.except);
  if (on) except.delete(id);
  else except.add(id);
  return { ...sel, except };
}

export function allMatching(q: string, total: number): Selection {
  return { kind: 'all', q, total, except: new Set() };
}

/** What the server's bulk route takes. */
export function toQuery(sel: Selection): QueueSelection {
  return sel.kind === 'ids' ? { ids: [...sel.ids] } : { q: sel.q, except: [...sel.except] };
}

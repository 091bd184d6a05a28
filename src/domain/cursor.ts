/**
 * The opaque keyset cursor of `GET /api/jobs` (seed 003): base64url of the
 * JSON `{s, v, id, o}` — sort field, the sort value of the last row as a
 * string, its id, and the order. Pure; a malformed or foreign cursor is a
 * CursorError, which the API answers with 400 INVALID_CURSOR.
 */

export type SortOrder = 'asc' | 'desc';

export interface Cursor {
  /** the sort field the cursor belongs to */
  sort: string;
  /** the sort value of the last row of the previous page (an integer) */
  value: number;
  /** id of the last row of the previous page, the tiebreaker */
  id: string;
  order: SortOrder;
}

export class CursorError extends Error {
  override name = 'CursorError';
}

export function encodeCursor(c: Cursor): string {
  const json = JSON.stringify({ s: c.sort, v: String(c.value), id: c.id, o: c.order });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** Decodes a cursor minted for `sorts` and `order`; anything else throws CursorError. */
export function decodeCursor(text: string, sorts: readonly string[], order: SortOrder): Cursor {
  if (!text || text.length > 1024 || !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) {
    throw new CursorError('the cursor is not base64url');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('the cursor is not JSON');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new CursorError('the cursor is not an object');
  const { s, v, id, o } = raw as Record<string, unknown>;
  if (typeof s !== 'string' || !sorts.includes(s))
    throw new CursorError('the cursor belongs to another sort');
  if (o !== order) throw new CursorError('the cursor belongs to the other sort order');
  if (typeof id !== 'string' || id.length === 0) throw new CursorError('the cursor has no id');
  if (typeof v !== 'string' || !/^-?\d{1,16}$/.test(v))
    throw new CursorError('the cursor value is not an integer');
  return { sort: s, value: Number(v), id, order };
}

/** Parses outside data with a schema, turning a mismatch into a clear 4xx. */
import type { z } from 'zod';
import { type ErrorCode, QueueError } from '../domain/errors.js';

export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: ErrorCode = 'INVALID_BODY',
): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new QueueError(code, `${where}${issue?.message ?? 'invalid value'}`, r.error.issues.slice(0, 10));
}

export function parseUuidParam(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) {
    throw new QueueError('INVALID_ID', `"${value.slice(0, 80)}" is not a lowercase hyphenated UUID.`);
  }
  return value;
}

/**
 * Integer query values are unbounded in ComfyUI (Python ints): a huge offset or limit is clamped to
 * this, far beyond any count the store holds, instead of reaching SQLite as a number it cannot bind.
 */
export const QUERY_INT_MAX = 1_000_000_000_000;

export function clampQueryInt(n: number): number {
  return Math.max(-QUERY_INT_MAX, Math.min(QUERY_INT_MAX, n));
}

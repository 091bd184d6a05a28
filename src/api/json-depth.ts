/**
 * How deep a JSON text nests, read before it is parsed. JSON.parse itself
 * copes with any depth, but code that later walks the value recursively
 * (validation, serialisation, the store) overflows the stack on a few
 * thousand levels, so bodies are refused at the edge instead. The scan is a
 * loop, never a recursion, and stops at the first level past the limit. Pure.
 */
import { QueueError } from '../domain/errors.js';

/** The deepest nesting of arrays and objects a request body may have (real workflows stay below 20). */
export const MAX_JSON_DEPTH = 100;

export function jsonNestingExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character, a quote included
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The 400 for a body that nests too deep. */
export function tooDeep(): QueueError {
  return new QueueError(
    'BODY_TOO_DEEP',
    `The JSON body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; no workflow needs that many.`,
  );
}

/**
 * What history text search looks at, as pure functions: the text indexed for
 * a job (its name, the string inputs of its prompt — CLIPTextEncode text and
 * the like —, node class_types and titles, seeds) and the FTS5 query a
 * person's words become. Both sides split words the same way, so a word a
 * person types always meets the token the index holds.
 */
import type { PromptGraph } from './job.js';

/** Longest text indexed per job: a prompt pasted ten times over adds nothing to search. */
export const SEARCH_TEXT_MAX = 16_384;
/** Words of a query beyond this many are ignored. */
export const QUERY_WORDS_MAX = 16;

const SEED_INPUTS = new Set(['seed', 'noise_seed']);

/** The text indexed for a job: one line per part, capped at SEARCH_TEXT_MAX characters. */
export function jobSearchText(name: string | null, prompt: PromptGraph): string {
  const parts: string[] = [];
  if (name) parts.push(name);
  for (const node of Object.values(prompt ?? {})) {
    if (!node || typeof node !== 'object') continue;
    if (typeof node.class_type === 'string') parts.push(node.class_type);
    const title = node._meta?.title;
    if (typeof title === 'string' && title !== node.class_type) parts.push(title);
    for (const [key, value] of Object.entries(node.inputs ?? {})) {
      if (typeof value === 'string') parts.push(value);
      else if (SEED_INPUTS.has(key) && typeof value === 'number' && Number.isInteger(value))
        parts.push(String(value));
    }
  }
  const text = parts.join('\n');
  return text.length > SEARCH_TEXT_MAX ? text.slice(0, SEARCH_TEXT_MAX) : text;
}

/**
 * The words of a query as FTS5's unicode61 tokenizer would cut them: runs of
 * letters, digits and marks; everything else separates.
 */
export function queryWords(text: string): string[] {
  return (text.normalize('NFKC').match(/[\p{L}\p{N}\p{M}]+/gu) ?? []).slice(0, QUERY_WORDS_MAX);
}

/**
 * An FTS5 MATCH expression for a person's words: every word must appear, each
 * as a prefix ("cat" finds "cats", "CLIPText" finds "CLIPTextEncode"); null
 * when the text holds no word. Words are quoted, so FTS5 operators typed by a
 * person (AND, NEAR, "-", ":") are plain text.
 */
export function ftsMatchQuery(text: string): string | null {
  const words = queryWords(text);
  if (words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(' ');
}

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
/** Longer words are cut (a PostgreSQL tsvector lexeme holds at most 2047 bytes). */
const WORD_MAX = 400;
/**
 * The prefix lengths the SQLite index keeps doclists of (jobs_fts, migration
 * 0004: `prefix = '2 3'`): a prefix query of these lengths is read lazily,
 * a longer one merges the doclists of every word it names first.
 */
export const INDEXED_PREFIXES: readonly number[] = [2, 3];

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

/** Lower case, compatibility forms, accents removed: how both indexes fold words. */
function fold(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
}

/** The distinct folded words of a text. */
export function searchWords(text: string): string[] {
  const words = new Set<string>();
  for (const w of fold(text).match(/[\p{L}\p{N}]+/gu) ?? []) words.add(w.slice(0, WORD_MAX));
  return [...words];
}

const isAsciiWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 122);

/** Whether each of `words` (folded) begins some word of `text`: what the index's prefix query finds. */
export function hasEveryPrefix(text: string, words: readonly string[]): boolean {
  // ASCII text folds to its lower case: the words are found in place, without splitting.
  if (/^\p{ASCII}*$/u.test(text)) {
    const lower = text.toLowerCase();
    return words.every((w) => {
      for (let i = lower.indexOf(w); i !== -1; i = lower.indexOf(w, i + 1))
        if (i === 0 || !isAsciiWordChar(lower.charCodeAt(i - 1))) return true;
      return false;
    });
  }
  const own = searchWords(text);
  return words.every((w) => own.some((t) => t.startsWith(w)));
}

/**
 * How the SQLite store walks history for a query whose words are common:
 * rows are checked against FTS5 expressions that are read lazily (whole
 * terms, and prefixes the index keeps), never against a long prefix, which
 * FTS5 would merge in full for every check.
 */
export interface FtsWalkPlan {
  /** the folded words: each must begin a word of the job */
  words: string[];
  /** every word as a whole term: a job matching it matches the query */
  whole: string;
  /** a superset of the matches (each word's indexed prefix), or null when a word has none */
  candidates: string | null;
  /** whether `candidates` is exactly the query (every word's length has a prefix index) */
  candidatesExact: boolean;
}

/**
 * The walk plan of a person's words, or null when the text holds no word or
 * one outside ASCII (folding outside ASCII is the tokenizer's own; such a
 * query keeps FTS5's prefix query).
 */
export function ftsWalkPlan(text: string): FtsWalkPlan | null {
  const raw = queryWords(text);
  if (raw.length === 0 || raw.some((w) => !/^[A-Za-z0-9]+$/.test(w))) return null;
  const words = raw.map((w) => w.toLowerCase());
  const longest = Math.max(...INDEXED_PREFIXES);
  const parts: string[] = [];
  for (const w of words) {
    if (INDEXED_PREFIXES.includes(w.length)) parts.push(`"${w}"*`);
    else if (w.length > longest) parts.push(`"${w.slice(0, longest)}"*`);
    // A one-letter word has no indexed prefix: every row is its candidate.
  }
  return {
    words,
    whole: words.map((w) => `"${w}"`).join(' '),
    candidates: parts.length ? parts.join(' ') : null,
    candidatesExact: words.every((w) => INDEXED_PREFIXES.includes(w.length)),
  };
}

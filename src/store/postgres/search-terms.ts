/**
 * History search on PostgreSQL, as pure functions. The store keeps each
 * job's words in a tsvector written from here, not by a text search
 * configuration: no stemming, no stop words, and the same folding on both
 * sides (lower case, compatibility forms, accents removed), so that it
 * matches what the SQLite FTS5 index (unicode61, remove_diacritics) finds:
 * every word of a query, as a prefix of a word of the job.
 */
import { queryWords } from '../../domain/search-text.js';

/** Longer words are cut (a tsvector lexeme holds at most 2047 bytes). */
const WORD_MAX = 400;

function fold(text: string): string {
  return text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '');
}

/** The distinct folded words of a text, as the tsvector stores them. */
export function searchWords(text: string): string[] {
  const words = new Set<string>();
  for (const w of fold(text).match(/[\p{L}\p{N}]+/gu) ?? []) words.add(w.slice(0, WORD_MAX));
  return [...words];
}

/**
 * A tsquery for a person's words: each folded word as a prefix, all required
 * (`'cafe':* & 'zurich':*`); null when the text holds no word. Words are
 * letters and digits only, so a person's operators (`|`, `!`, quotes) are
 * never query syntax.
 */
export function prefixQuery(text: string): string | null {
  const words = queryWords(text).flatMap((w) => searchWords(w));
  if (words.length === 0) return null;
  return words.map((w) => `'${w.replaceAll("'", "''").replaceAll('\\', '\\\\')}':*`).join(' & ');
}

/**
 * History search on PostgreSQL, as pure functions. The store keeps each
 * job's words in a tsvector written from here, not by a text search
 * configuration: no stemming, no stop words, and the same folding on both
 * sides (lower case, compatibility forms, accents removed), so that it
 * matches what the SQLite FTS5 index (unicode61, remove_diacritics) finds:
 * every word of a query, as a prefix of a word of the job.
 */
import { queryWords, searchWords } from '../../domain/search-text.js';

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

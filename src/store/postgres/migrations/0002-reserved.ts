/**
 * 0002: reserved for agent enrollments and collected outputs (the SQLite
 * store's 0006 and 0008), which come with their own migration. Versions are
 * contiguous (migrate.ts), so this slot holds its number until then.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = '';

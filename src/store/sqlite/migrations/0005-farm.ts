/**
 * 0005: the render farm. Workers are rows with a stable id (a name, or one
 * derived from the URL), not positions on a command line: tags, capacity, the
 * operator's mode (active, draining, paused) and the failure record that
 * quarantines a worker or blocks a workflow on it (a JSON document the farm
 * rules read). Jobs gain the worker tags they require and the count of
 * retries spent on worker failures (infrastructure failures spend none).
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE workers (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('push', 'agent')),
  source     TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('flag', 'api')),
  url        TEXT,
  tags       TEXT NOT NULL DEFAULT '[]',
  capacity   INTEGER NOT NULL CHECK (capacity >= 1),
  mode       TEXT NOT NULL DEFAULT 'active' CHECK (mode IN ('active', 'draining', 'paused')),
  health     TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

ALTER TABLE jobs ADD COLUMN requires TEXT;
ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
`;

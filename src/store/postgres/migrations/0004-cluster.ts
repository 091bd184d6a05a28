/**
 * 0004: several servers on one database (src/cluster).
 *
 * - `servers`: each running server, by the id kept in its data folder, with
 *   the time it last said it is alive. A row whose `seen_at` is older than the
 *   worker lease is a server that died or lost the database.
 * - `worker_owners`: which server drives each push worker, until `expires_at`.
 *   The owner renews the row; another server takes it over only once it has
 *   expired (`UPDATE … WHERE expires_at < now`), so at most one server drives
 *   a worker at a time. `state` is the worker's connection as its owner last
   saw it, for the other servers' listings. An agent needs no row: it
   connects to one server.
 * - `relay`: event payloads too big for one NOTIFY (8,000 bytes) and live
 *   preview frames: the NOTIFY names the row; rows older than a minute are
 *   deleted by the sender. Unlogged: nothing in it must survive a crash.
 * Append-only: never edit a migration that has shipped.
 */
export const sql = `
CREATE TABLE servers (
  id         text COLLATE "C" PRIMARY KEY,
  name       text NOT NULL,
  url        text,
  started_at bigint NOT NULL,
  seen_at    bigint NOT NULL
);
CREATE TABLE worker_owners (
  worker_id  text COLLATE "C" PRIMARY KEY,
  owner      text COLLATE "C" NOT NULL,
  taken_at   bigint NOT NULL,
  expires_at bigint NOT NULL,
  state      text NOT NULL DEFAULT 'connecting'
);
CREATE INDEX worker_owners_owner ON worker_owners (owner);
CREATE UNLOGGED TABLE relay (
  id   bigserial PRIMARY KEY,
  body bytea NOT NULL,
  at   bigint NOT NULL
);
`;

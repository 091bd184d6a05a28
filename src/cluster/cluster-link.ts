/**
 * The connection a server keeps to the other servers on one PostgreSQL:
 * LISTEN/NOTIFY on one channel per schema (with a relay table for payloads
 * over NOTIFY's 8,000-byte limit), the server's heartbeat row, and the
 * worker-ownership rows (migration 0004). The listening connection is one
 * session of its own; when it drops, the link reconnects with backoff and
 * says so (`onResume`), so that what was missed meanwhile can be read again.
 */
import type pg from 'pg';
import { errMessage, type Logger } from '../logging/logger.js';
import { connectSession, createPool } from '../store/postgres/connection.js';
import { quoteIdent } from '../store/postgres/migrate.js';
import { rowsOf } from '../store/postgres/queryable.js';

export interface ClusterLinkOptions {
  /** postgres://… without `?schema=` */
  url: string;
  schema: string;
  /** this server's id (kept in its data folder: a restarted server is the same server) */
  serverId: string;
  log: Logger;
  now: () => number;
  /** first and longest wait between reconnection attempts of the listener, ms */
  reconnectMs?: { first: number; max: number };
}

/** NOTIFY carries at most 8,000 bytes; what is longer goes through the relay table. */
export const NOTIFY_MAX_BYTES = 7_900;
/** relay rows older than this are deleted */
const RELAY_KEEP_MS = 60_000;

export class ClusterLink {
  private readonly pool: pg.Pool;
  private listener: pg.Client | null = null;
  private readonly channel: string;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private delayMs: number;
  private readonly handlers = new Set<(payload: string) => void>();
  private readonly resumeHandlers = new Set<() => void>();
  private lastRelayPrune = 0;

  constructor(private readonly opts: ClusterLinkOptions) {
    this.pool = createPool({
      url: opts.url,
      schema: opts.schema,
      max: 3,
      busyTimeoutMs: 5_000,
      applicationName: 'comfy-queue cluster',
    });
    this.pool.on('error', (err) =>
      opts.log.warn({ err: errMessage(err) }, 'an idle cluster connection was lost'),
    );
    this.channel = `cq:${opts.schema}`;
    this.delayMs = opts.reconnectMs?.first ?? 250;
  }

  get serverId(): string {
    return this.opts.serverId;
  }

  /** Starts listening; rejects when the database cannot be reached now. */
  async open(): Promise<void> {
    await this.listen();
  }

  onMessage(handler: (payload: string) => void): void {
    this.handlers.add(handler);
  }

  /** Called after the listener reconnected (notifications sent meanwhile are lost). */
  onResume(handler: () => void): void {
    this.resumeHandlers.add(handler);
  }

  private async listen(): Promise<void> {
    const client = await connectSession({
      url: this.opts.url,
      schema: this.opts.schema,
      busyTimeoutMs: 5_000,
      applicationName: 'comfy-queue listen',
    });
    client.on('notification', (n) => {
      if (n.channel !== this.channel || n.payload === undefined) return;
      for (const h of this.handlers) h(n.payload);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    try {
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (err) {
      await client.end().catch((endErr: unknown) => {
        // Safe: the connection is being dropped anyway; the listen error is what the caller sees.
        this.opts.log.debug({ err: errMessage(endErr) }, 'closing a failed listener');
      });
      throw err;
    }
    this.listener = client;
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.listener !== client || this.closed) return;
    this.listener = null;
    this.opts.log.warn(
      { err: errMessage(err) },
      `lost the database connection that carries other servers' events; reconnecting`,
    );
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const wait = this.delayMs;
    this.delayMs = Math.min(this.opts.reconnectMs?.max ?? 5_000, this.delayMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.listen()
        .then(() => {
          this.delayMs = this.opts.reconnectMs?.first ?? 250;
          this.opts.log.info('listening to other servers again');
          for (const h of this.resumeHandlers) h();
        })
        .catch((err: unknown) => {
          this.opts.log.debug(
            { err: errMessage(err) },
            'reconnecting the event listener failed; trying again',
          );
          this.scheduleReconnect();
        });
    }, wait);
    this.reconnectTimer.unref();
  }

  /** Whether the listener is connected (events of other servers arrive). */
  get listening(): boolean {
    return this.listener !== null;
  }

  async notify(payload: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, payload]);
  }

  /** Keeps a payload too big for NOTIFY; resolves its row id. */
  async putRelay(body: Buffer): Promise<number> {
    const now = this.opts.now();
    const [row] = await rowsOf<{ id: number }>(
      this.pool,
      'INSERT INTO relay (body, at) VALUES ($1, $2) RETURNING id',
      [body, now],
    );
    if (now - this.lastRelayPrune > RELAY_KEEP_MS / 4) {
      this.lastRelayPrune = now;
      await this.pool.query('DELETE FROM relay WHERE at < $1', [now - RELAY_KEEP_MS]);
    }
    return row!.id;
  }

  async getRelay(id: number): Promise<Buffer | null> {
    const [row] = await rowsOf<{ body: Buffer }>(this.pool, 'SELECT body FROM relay WHERE id = $1', [id]);
    return row?.body ?? null;
  }

  // ---- servers and worker ownership -------------------------------------

  /** Says this server is alive (its row, created at first). */
  async heartbeat(name: string, url: string | null): Promise<void> {
    const now = this.opts.now();
    await this.pool.query(
      `INSERT INTO servers (id, name, url, started_at, seen_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, url = excluded.url, seen_at = excluded.seen_at`,
      [this.opts.serverId, name, url, now],
    );
  }

  /** Servers seen within `withinMs`, this one included. */
  async liveServers(
    withinMs: number,
  ): Promise<{ id: string; name: string; url: string | null; seenAt: number }[]> {
    const rows = await rowsOf<{ id: string; name: string; url: string | null; seen_at: number }>(
      this.pool,
      'SELECT id, name, url, seen_at FROM servers WHERE seen_at >= $1 ORDER BY id',
      [this.opts.now() - withinMs],
    );
    return rows.map((r) => ({ id: r.id, name: r.name, url: r.url, seenAt: r.seen_at }));
  }

  /** Every ownership row. */
  async owners(): Promise<{ workerId: string; owner: string; expiresAt: number; state: string }[]> {
    const rows = await rowsOf<{ worker_id: string; owner: string; expires_at: number; state: string }>(
      this.pool,
      'SELECT worker_id, owner, expires_at, state FROM worker_owners',
    );
    return rows.map((r) => ({
      workerId: r.worker_id,
      owner: r.owner,
      expiresAt: r.expires_at,
      state: r.state,
    }));
  }

  /** Records the connection state of a worker this server drives, for the others' listings. */
  async setState(workerId: string, state: string): Promise<void> {
    await this.pool.query('UPDATE worker_owners SET state = $3 WHERE worker_id = $1 AND owner = $2', [
      workerId,
      this.opts.serverId,
      state,
    ]);
  }

  /** Extends every row this server owns; resolves the workers still its own. */
  async renewOwned(leaseMs: number): Promise<string[]> {
    const rows = await rowsOf<{ worker_id: string }>(
      this.pool,
      'UPDATE worker_owners SET expires_at = $2 WHERE owner = $1 RETURNING worker_id',
      [this.opts.serverId, this.opts.now() + leaseMs],
    );
    return rows.map((r) => r.worker_id);
  }

  /**
   * Takes a worker that has no owner, or whose owner's lease ended; false when
   * another server holds it (or took it first).
   */
  async take(workerId: string, leaseMs: number): Promise<boolean> {
    const now = this.opts.now();
    const rows = await rowsOf<{ owner: string }>(
      this.pool,
      `INSERT INTO worker_owners (worker_id, owner, taken_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (worker_id) DO UPDATE SET owner = excluded.owner, taken_at = excluded.taken_at,
         expires_at = excluded.expires_at, state = 'connecting'
       WHERE worker_owners.expires_at < $3 OR worker_owners.owner = excluded.owner
       RETURNING owner`,
      [workerId, this.opts.serverId, now, now + leaseMs],
    );
    return rows.length > 0;
  }

  /** Gives a worker up (this server stops, or the worker was removed). */
  async giveUp(workerIds: readonly string[]): Promise<void> {
    if (workerIds.length === 0) return;
    await this.pool.query('DELETE FROM worker_owners WHERE owner = $1 AND worker_id = ANY($2)', [
      this.opts.serverId,
      workerIds,
    ]);
  }

  /** Says this server left (its row goes; its ownership rows too). */
  async leave(): Promise<void> {
    await this.pool.query('DELETE FROM worker_owners WHERE owner = $1', [this.opts.serverId]);
    await this.pool.query('DELETE FROM servers WHERE id = $1', [this.opts.serverId]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    if (l) await l.end();
    await this.pool.end();
  }
}

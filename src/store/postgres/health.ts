/**
 * What a failed statement means for the PostgreSQL store, and the store's
 * health. A lock wait past lock_timeout is STORE_BUSY (`locked`), a full disk
 * on the database server STORE_FULL (`full`), a refused or dropped connection
 * STORE_UNAVAILABLE (`unavailable`); the health says so until a write works
 * again. Other errors (a bug, a constraint) pass through unchanged.
 */
import { QueueError } from '../../domain/errors.js';
import { errMessage, type Logger, silentLogger } from '../../logging/logger.js';
import type { StoreHealth } from '../job-store.js';

type Degraded = Exclude<StoreHealth['state'], 'ok'>;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
]);

/** The health state a driver error puts the store in, or null for an error of the statement itself. */
export function degradedBy(err: unknown): Degraded | null {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === '55P03') return 'locked'; // lock_not_available: lock_timeout ran out
  if (code === '53100') return 'full'; // disk_full
  if (CONNECTION_CODES.has(code)) return 'unavailable';
  // 08: connection exception; 57P01-57P03: the server shut down or terminated this backend
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'unavailable';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    )
  )
    return 'unavailable';
  return null;
}

export class StoreHealthTracker {
  private current: StoreHealth = { state: 'ok', message: null, since: null };
  private readonly log: Logger;

  constructor(
    private readonly where: string,
    private readonly busyTimeoutMs: number,
    private readonly now: () => number,
    log?: Logger,
  ) {
    this.log = log ?? silentLogger;
  }

  health(): StoreHealth {
    return { ...this.current };
  }

  get ok(): boolean {
    return this.current.state === 'ok';
  }

  /** A write committed: writing works. */
  succeeded(): void {
    if (this.current.state === 'ok') return;
    this.log.info({ was: this.current.state }, 'the database accepts writes again');
    this.current = { state: 'ok', message: null, since: null };
  }

  /** The error a caller sees for `err`, after noting what it says about the database. */
  failed(err: unknown): unknown {
    const state = degradedBy(err);
    if (state === null) return err;
    const message = this.messageFor(state);
    if (this.current.state !== state) {
      this.log.warn({ state, err: errMessage(err) }, message);
      this.current = { state, message, since: this.now() };
    }
    const code = state === 'locked' ? 'STORE_BUSY' : state === 'full' ? 'STORE_FULL' : 'STORE_UNAVAILABLE';
    return new QueueError(code, message, { postgres: (err as { code?: string }).code ?? null });
  }

  private messageFor(state: Degraded): string {
    if (state === 'locked')
      return `The database is locked by another process; the write waited ${this.busyTimeoutMs} ms and nothing was changed. Try again, and end the other session (a long transaction, a manual LOCK) if it persists.`;
    if (state === 'full')
      return `The disk of the database server (${this.where}) is full; nothing was changed. Free space there: writing resumes by itself.`;
    return `The database server (${this.where}) cannot be reached or dropped the connection; the change was not confirmed. comfy-queue reconnects by itself.`;
  }
}

/**
 * Every write of the SQLite store goes through the gate. It does four things:
 *
 * - A write is part of one explicit transaction, BEGIN IMMEDIATE … COMMIT,
 *   and its result is handed back only once COMMIT has returned.
 *   better-sqlite3's `.get()` on an autocommit `UPDATE … RETURNING` hands back
 *   the row before the commit that may then fail (a full disk): a caller
 *   acting on it would act on a change the database does not have. A failed
 *   COMMIT is rolled back and thrown to every write it carried.
 * - Group commit: the writes asked for in one event-loop turn (a finish, a
 *   claim, a thumbnail, a collected file, enqueues...) share one transaction
 *   and one fsync, each inside a savepoint of its own, so one that throws
 *   undoes only itself. Most of a write's cost is the fsync at COMMIT, and on
 *   a busy server many writes are asked for in the same turn. A write that
 *   nothing waits on (a thumbnail, a collected file's record) may be
 *   `patient`: it waits up to `patientMs` for another write to share its
 *   commit, or until PATIENT_GROUP such writes wait, so that the writes
 *   after each finished job do not each pay one.
 * - Waiting for another process's write lock happens here, asynchronously and
 *   bounded. The driver is synchronous: SQLite's own busy_timeout would sleep
 *   on the event loop's thread and stall every request, reads included. The
 *   connection's busy_timeout is 0 and a locked write is retried on timers
 *   until `busyTimeoutMs`, then refused with STORE_BUSY. Writes queue behind
 *   a waiting one, so they still commit in the order they were asked.
 * - A full disk is refused with STORE_FULL, and the store's health says so
 *   until a write that changed something commits again; while it is not ok a
 *   small probe write retries on a timer, so writing resumes by itself when
 *   space returns.
 */
import { statfsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { QueueError } from '../../domain/errors.js';
import { errMessage, type Logger, silentLogger } from '../../logging/logger.js';
import type { StoreHealth } from '../job-store.js';

export interface WriteGateOptions {
  /** how long a write waits for another connection's lock before STORE_BUSY, in ms */
  busyTimeoutMs: number;
  /** the folder of the database file (null in memory): named in STORE_FULL, checked for free space */
  dataDir: string | null;
  /** how often a store that is not ok tries a probe write, in ms */
  probeMs: number;
  /** how long a patient write may wait for others to share its commit, in ms (default 20) */
  patientMs?: number;
  now: () => number;
  log?: Logger;
}

interface Waiting {
  run: () => unknown;
  deadline: number;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * This many patient writes waiting commit at once, without waiting for another write: the
 * output collector keeps four transfers in flight, and none of them should wait for a timer.
 */
const PATIENT_GROUP = 4;

/** Below this much free space an I/O error of a write counts as a full disk. */
const NEARLY_FULL_BYTES = 1 << 20;

export class WriteGate {
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly undo: Database.Statement;
  private readonly totalChanges: Database.Statement<[], { n: number }>;
  private readonly probeWrite: Database.Statement<[value: string]>;
  private readonly queue: Waiting[] = [];
  private draining: Promise<void> | null = null;
  private current: StoreHealth = { state: 'ok', message: null, since: null };
  private probeTimer: NodeJS.Timeout | null = null;
  /** Starts the drain for patient writes that no other write came to take. */
  private patientTimer: NodeJS.Timeout | null = null;
  private committed = 0;
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly db: Database.Database,
    private readonly opts: WriteGateOptions,
  ) {
    this.log = opts.log ?? silentLogger;
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT gate_write');
    this.release = db.prepare('RELEASE gate_write');
    this.undo = db.prepare('ROLLBACK TO gate_write');
    this.totalChanges = db.prepare('SELECT total_changes() AS n');
    this.probeWrite = db.prepare(
      `INSERT INTO settings (key, value) VALUES ('store_probe', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  }

  health(): StoreHealth {
    return { ...this.current };
  }

  /** How many groups have been committed. */
  get commits(): number {
    return this.committed;
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction, with the other writes of this
   * turn, and resolves its result once committed. Rejects STORE_BUSY,
   * STORE_FULL, or the error `fn` or the driver threw; nothing of `fn` is
   * kept then. A `patient` write waits up to `patientMs` for another write
   * to commit with, unless a group is already forming or PATIENT_GROUP wait.
   */
  run<T>(fn: () => T, opts: { patient?: boolean } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        run: fn,
        deadline: this.opts.now() + this.opts.busyTimeoutMs,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (opts.patient && !this.draining && this.queue.length < PATIENT_GROUP) {
        this.patientTimer ??= setTimeout(() => {
          this.patientTimer = null;
          this.draining ??= this.drain();
        }, this.opts.patientMs ?? 20);
      } else {
        this.draining ??= this.drain();
      }
    });
  }

  /**
   * Takes no more writes; those queued get a last try (one waiting for a lock
   * is refused STORE_BUSY if the lock is still held). Resolves once none waits.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    if (this.queue.length > 0) this.draining ??= this.drain(); // patient writes wait no longer
    while (this.draining) await this.draining;
  }

  /**
   * Commits what is queued, a group at a time, in arrival order. A group
   * that meets another process's lock waits on timers; its writes past their
   * deadline are refused, the rest retried together with what came meanwhile.
   */
  private async drain(): Promise<void> {
    // The rest of this turn's writes join the group. Never finish synchronously:
    // `draining` is set after this returns, and cleared (below) in the same turn
    // as the queue is seen empty, so a write queued by a caller woken here
    // always finds a drain to join or starts one.
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Patient writes queued so far join this group.
    if (this.patientTimer) clearTimeout(this.patientTimer);
    this.patientTimer = null;
    try {
      let delay = 5;
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.queue.length);
        if (this.commitGroup(group)) {
          delay = 5;
          continue;
        }
        // Locked by another process: refuse what waited too long, retry the rest first.
        const now = this.opts.now();
        const still = group.filter((w) => {
          if (now < w.deadline && !this.closed) return true;
          w.reject(this.locked());
          return false;
        });
        this.queue.unshift(...still);
        if (this.queue.length === 0) break;
        await sleep(Math.min(delay, Math.max(1, this.queue[0]!.deadline - this.opts.now())));
        delay = Math.min(delay * 2, 100);
      }
    } finally {
      this.draining = null;
    }
  }

  /**
   * One try at a group: BEGIN IMMEDIATE, each write in a savepoint, COMMIT,
   * then each settled. False (nothing settled, nothing kept) when the lock is
   * held by another connection.
   */
  private commitGroup(group: Waiting[]): boolean {
    const checkChanges = this.current.state === 'full';
    const before = checkChanges ? this.totalChanges.get()!.n : 0;
    try {
      this.begin.run();
    } catch (err) {
      if (isBusy(err)) return false;
      const failure = this.failed(err);
      for (const w of group) w.reject(failure);
      return true;
    }
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      if (group.length === 1) {
        // Alone, a write needs no savepoint: what it threw undoes the whole transaction.
        // (A savepoint copies each page it changes first, which a big write pays in full.)
        const only = group[0]!;
        let value: unknown;
        try {
          value = only.run();
        } catch (err) {
          this.rollbackQuietly(err);
          only.reject(this.failed(err));
          return true;
        }
        outcomes.push({ ok: true, value });
      } else {
        for (const w of group) outcomes.push(this.inSavepoint(w.run));
      }
      this.commit.run();
    } catch (err) {
      this.rollbackQuietly(err);
      if (isBusy(err)) return false;
      const failure = this.failed(err);
      for (const w of group) w.reject(failure);
      return true;
    }
    this.committed++;
    // A commit that wrote nothing proves nothing about the disk.
    if (this.current.state !== 'ok' && (!checkChanges || this.totalChanges.get()!.n !== before)) {
      this.recovered();
    }
    group.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve(o.value);
      else w.reject(this.failed(o.value));
    });
    return true;
  }

  /**
   * Runs one write inside the group's transaction; what it threw is undone
   * and handed back. A failure of the savepoint statements themselves (the
   * disk, the connection) is thrown: it ends the whole group.
   */
  private inSavepoint(fn: () => unknown): { ok: boolean; value: unknown } {
    this.savepoint.run();
    let value: unknown;
    try {
      value = fn();
    } catch (err) {
      if (!this.db.inTransaction) throw err; // SQLite rolled the whole transaction back
      this.undo.run();
      this.release.run();
      return { ok: false, value: err };
    }
    this.release.run();
    return { ok: true, value };
  }

  private rollbackQuietly(cause: unknown): void {
    // SQLite may have rolled back already (a full disk during COMMIT often does).
    if (!this.db.inTransaction) return;
    try {
      this.rollback.run();
    } catch (err) {
      this.log.error({ err }, `ROLLBACK after "${(cause as Error).message}" failed too: ${errMessage(err)}`);
    }
  }

  /** Maps a write's error: a full disk to STORE_FULL, anything else unchanged. */
  private failed(err: unknown): unknown {
    if (!isFullDisk(err, this.opts.dataDir, this.log)) return err;
    const where = this.opts.dataDir ? ` (${this.opts.dataDir})` : '';
    const message = `The disk that holds the database is full; nothing was changed. Free space in the data folder${where}: writing resumes by itself, no restart needed.`;
    this.degrade('full', message);
    return new QueueError('STORE_FULL', message, { sqlite: sqliteCode(err) });
  }

  private locked(): QueueError {
    const message = `The database is locked by another process; the write waited ${this.opts.busyTimeoutMs} ms and nothing was changed. Try again, and stop the other process (a backup, a second comfy-queue on the same data folder) if it persists.`;
    this.degrade('locked', message);
    return new QueueError('STORE_BUSY', message, { sqlite: 'SQLITE_BUSY' });
  }

  private degrade(state: 'full' | 'locked', message: string): void {
    if (this.current.state !== state) {
      this.log.error(message);
      this.current = { state, message, since: this.opts.now() };
    }
    this.scheduleProbe();
  }

  private recovered(): void {
    this.log.warn(`writing works again (it was ${this.current.state})`);
    this.current = { state: 'ok', message: null, since: null };
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private scheduleProbe(): void {
    if (this.probeTimer || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.current.state === 'ok' || this.closed) return;
      // A small write that always changes a row, so success proves the disk takes writes.
      this.run(() => this.probeWrite.run(String(this.opts.now()))).catch(() => {
        // Still failing: the error already set the state and scheduled the next probe.
        this.scheduleProbe();
      });
    }, this.opts.probeMs);
    this.probeTimer.unref();
  }
}

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function isFullDisk(err: unknown, dir: string | null, log: Logger): boolean {
  const code = sqliteCode(err);
  if (code === 'SQLITE_FULL') return true;
  // Writing the WAL or growing its index on a full disk reports an I/O error
  // (SQLITE_IOERR_WRITE, _SHMSIZE, _FSYNC...): ask the file system.
  if (!code?.startsWith('SQLITE_IOERR') || !dir) return false;
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize < NEARLY_FULL_BYTES;
  } catch (statErr) {
    log.warn({ err: statErr }, `cannot read the free space of ${dir}: ${errMessage(statErr)}`);
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Drives the push workers this server owns, and only those (ownership-plan.ts
 * decides which to take). Every third of the worker lease it says it is
 * alive, renews its rows, takes workers that are free, lets go of those it
 * lost, and applies what other servers changed in the workers' records. A
 * server that cannot renew for half a lease stops driving every worker: it
 * fences itself before its rows expire and another server may take them.
 */
import { errMessage, type Logger } from '../logging/logger.js';
import type { WorkerRecord } from '../store/job-store.js';
import type { ClusterLink } from './cluster-link.js';
import { isFree, type OwnerRow, workersToTake } from './ownership-plan.js';

export interface OwnedWorkers {
  /** the push workers registered now (from the store) */
  registered(): Promise<WorkerRecord[]>;
  /** starts driving a worker this server now owns (adopting the jobs it holds) */
  adopt(rec: WorkerRecord): Promise<void>;
  /** stops driving a worker without touching its jobs (another server takes it over) */
  release(id: string): Promise<void>;
  /** stops driving a worker that was removed: its jobs go back to the queue */
  remove(id: string): Promise<void>;
}

export interface OwnershipOptions {
  leaseMs: number;
  /** the workers named on this server's command line */
  preferred: ReadonlySet<string>;
  name: string;
  url: () => string | null;
  now: () => number;
  log: Logger;
}

export class WorkerOwnership {
  private readonly mine = new Set<string>();
  private readonly freeSince = new Map<string, number>();
  private lastRenewed: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** who drove each worker at the last pass, and the live servers' names */
  private owners = new Map<string, { owner: string; state: string }>();
  private names = new Map<string, string>();
  private lastPassAt = 0;

  constructor(
    private readonly link: ClusterLink,
    private readonly workers: OwnedWorkers,
    private readonly opts: OwnershipOptions,
  ) {
    this.lastRenewed = opts.now();
  }

  /**
   * The server that drove a worker at the last pass (its id and name) and the
   * worker's state as that server recorded it, or null when none did.
   */
  ownerOf(workerId: string): { id: string; name: string; state: string; at: number } | null {
    const o = this.owners.get(workerId);
    if (!o) return null;
    return { id: o.owner, name: this.names.get(o.owner) ?? o.owner, state: o.state, at: this.lastPassAt };
  }

  /** The workers this server drives now. */
  owned(): ReadonlySet<string> {
    return this.mine;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(250, Math.floor(this.opts.leaseMs / 3)));
    this.timer.unref();
  }

  /** Runs a pass now (another server changed a worker, or a worker was added); passes never overlap. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch((err: unknown) => this.failed(err));
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const { leaseMs } = this.opts;
    await this.link.heartbeat(this.opts.name, this.opts.url());
    const renewed = new Set(await this.link.renewOwned(leaseMs));
    this.lastRenewed = this.opts.now();
    const records = (await this.workers.registered()).filter((r) => r.kind === 'push' && r.url);
    const byId = new Map(records.map((r) => [r.id, r]));
    // Lost (taken over while this server could not renew) or removed: stop driving.
    for (const id of [...this.mine]) {
      if (renewed.has(id) && byId.has(id)) continue;
      if (!byId.has(id)) {
        this.mine.delete(id);
        this.opts.log.info({ worker: id }, `worker ${id} was removed`);
        await this.workers.remove(id);
      } else await this.drop(id, 'another server took it over');
    }
    const gone = [...renewed].filter((id) => !byId.has(id));
    await this.link.giveUp(gone);
    // Rows this server holds from before a restart (the same id): its own again.
    for (const id of renewed) if (!this.mine.has(id) && byId.has(id)) await this.adopt(byId.get(id)!);

    const now = this.opts.now();
    const owners = new Map<string, OwnerRow>();
    const rows = await this.link.owners();
    for (const o of rows) owners.set(o.workerId, { owner: o.owner, expiresAt: o.expiresAt });
    for (const r of records) {
      if (isFree(owners.get(r.id), now) && !this.mine.has(r.id)) {
        if (!this.freeSince.has(r.id)) this.freeSince.set(r.id, now);
      } else this.freeSince.delete(r.id);
    }
    const servers = await this.link.liveServers(leaseMs);
    const live = servers.length;
    this.names = new Map(servers.map((x) => [x.id, x.name]));
    this.owners = new Map(
      rows.filter((o) => o.expiresAt >= now).map((o) => [o.workerId, { owner: o.owner, state: o.state }]),
    );
    this.lastPassAt = now;
    const take = workersToTake({
      me: this.link.serverId,
      now,
      leaseMs,
      workers: records.map((r) => r.id),
      preferred: this.opts.preferred,
      owners,
      mine: this.mine,
      liveServers: live,
      freeSince: this.freeSince,
    });
    for (const id of take) {
      if (!(await this.link.take(id, leaseMs))) continue; // another server was quicker
      const was = owners.get(id);
      if (was && was.owner !== this.link.serverId)
        this.opts.log.warn(
          { worker: id, from: was.owner },
          `taking over worker ${id}: its server stopped renewing it`,
        );
      await this.adopt(byId.get(id)!);
    }
  }

  private async adopt(rec: WorkerRecord): Promise<void> {
    this.mine.add(rec.id);
    this.freeSince.delete(rec.id);
    try {
      await this.workers.adopt(rec);
      this.opts.log.info({ worker: rec.id }, `driving worker ${rec.id}`);
    } catch (err) {
      this.mine.delete(rec.id);
      await this.link.giveUp([rec.id]);
      throw err;
    }
  }

  private async drop(id: string, why: string): Promise<void> {
    this.mine.delete(id);
    this.opts.log.warn({ worker: id }, `no longer driving worker ${id}: ${why}`);
    await this.workers.release(id);
  }

  private async failed(err: unknown): Promise<void> {
    const since = this.opts.now() - this.lastRenewed;
    // Half a lease without renewing: stop well before the rows expire and another server may take them.
    if (since < this.opts.leaseMs / 2 || this.mine.size === 0) {
      this.opts.log.warn({ err: errMessage(err) }, `renewing worker ownership failed: ${errMessage(err)}`);
      return;
    }
    // Another server may take these workers now: stop before it does.
    this.opts.log.error(
      { err: errMessage(err), ms: since },
      `could not renew worker ownership for ${since} ms: no longer driving ${[...this.mine].join(', ')}`,
    );
    for (const id of [...this.mine]) await this.drop(id, 'its ownership could not be renewed');
  }

  /** Stops the passes (before the workers stop). */
  async halt(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Hands every worker over: the other servers may take them at once (after they stopped here). */
  async handOver(): Promise<void> {
    try {
      await this.link.leave();
    } catch (err) {
      // Safe: the rows expire by themselves within a lease; the other servers take the workers then.
      this.opts.log.warn({ err: errMessage(err) }, `could not hand the workers over: ${errMessage(err)}`);
    }
  }
}

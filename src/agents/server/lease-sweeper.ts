/**
 * The lease sweeper: a job claimed by an agent is held only while the agent
 * renews its lease. One whose lease ended (the agent disappeared, or was cut
 * off longer than the lease) goes back to pending without spending a retry or
 * counting against the job (the infrastructure failed, not the job), and its
 * agent is told to interrupt and delete its copy when it is back. A report the
 * agent makes later under that claim is refused (fencing).
 */
import type { Engine } from '../../engine/engine.js';
import { errMessage, type Logger } from '../../logging/logger.js';
import type { AgentPort } from './agent-port.js';

export interface SweeperOptions {
  now: () => number;
  /** how often leases are checked */
  intervalMs: number;
  log: Logger;
}

export class LeaseSweeper {
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly engine: Engine,
    private readonly ports: ReadonlyMap<string, AgentPort>,
    private readonly opts: SweeperOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((err) => {
        // Safe: nothing changed; the next sweep looks again.
        this.opts.log.error({ err }, `sweeping expired leases failed: ${errMessage(err)}`);
      });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Returns every agent job whose lease ended to the queue; resolves how many went back. */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      const now = this.opts.now();
      let back = 0;
      for (const job of await this.engine.store.listInProgress()) {
        const port = job.worker ? this.ports.get(job.worker) : undefined;
        if (!port || job.leaseUntil === null || job.leaseUntil > now) continue;
        const reason = `the lease of agent ${port.id} ended (${port.connected ? 'no renewal' : 'disconnected'})`;
        const released = await this.engine.store.release(
          job.id,
          { type: 'lease_expired', message: reason },
          port.id,
          job.attempts,
        );
        if (!released) continue; // it finished or moved meanwhile
        back++;
        port.forget(job.id, job.attempts, reason);
        this.opts.log.warn({ job: job.id, agent: port.id }, `job back in the queue: ${reason}`);
        this.engine.bus.publish({ type: 'job.released', job: released, reason });
      }
      if (back > 0) this.engine.pump();
      return back;
    } finally {
      this.sweeping = false;
    }
  }
}

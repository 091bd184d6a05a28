/**
 * The driver of one ComfyUI server (a "worker"). It submits the jobs the
 * engine hands it under their own prompt_id and its own websocket clientId,
 * follows them over the websocket, reads the outcome from /history once
 * ComfyUI says the prompt is over, and reconciles whatever it could not
 * follow (a dropped socket, a comfy-queue restart) against ComfyUI's queue and
 * history, in that order, so that a job is re-run only when ComfyUI provably
 * does not have it.
 */

import type { BinaryFrame } from '../comfy/binary-frames.js';
import { ComfyClient, ComfyHttpError } from '../comfy/client.js';
import type { ComfyMessage } from '../comfy/messages.js';
import { promptIdOf } from '../comfy/messages.js';
import { errorFromRejection, outcomeFromHistory } from '../comfy/outcome.js';
import { ComfySocket } from '../comfy/socket.js';
import type { Job } from '../domain/job.js';
import type { WorkerState } from '../engine/events.js';
import type { WorkerPort, WorkerReports } from '../engine/worker-port.js';

export interface DriverOptions {
  /** jobs held at once: 1 runs, the rest wait in ComfyUI's own queue */
  capacity: number;
  /** a worker offline this long gives its jobs back to the queue */
  offlineTimeoutMs: number;
  /** how often jobs that went quiet are checked against ComfyUI */
  pollMs: number;
  now: () => number;
}

type Phase =
  | 'submitting'
  | 'submitted'
  | 'running'
  | 'collecting'
  | 'withdrawing'
  | 'uncertain'
  /** over on the worker; the store has not yet taken the report (it is retried) */
  | 'reporting';

interface Active {
  job: Job;
  phase: Phase;
  lastSeen: number;
  cancelRequested: boolean;
}

const TERMINAL = new Set(['execution_success', 'execution_error', 'execution_interrupted']);

export class WorkerDriver implements WorkerPort {
  state: WorkerState = 'connecting';
  readonly active = new Map<string, Active>();
  readonly client: ComfyClient;
  draining = false;
  systemStats: Record<string, unknown> | null = null;
  private socket: ComfySocket | null = null;
  private stopped = false;
  private backoffMs = 250;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private offlineSince: number | null = null;
  private readonly pollTimer: NodeJS.Timeout;
  /** the prompt ComfyUI says it is executing now, for frames that carry no prompt_id */
  private executing: string | null = null;
  /** the last POST /prompt sent: the next waits for its answer (see submit) */
  private lastSubmission: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly url: string,
    readonly clientId: string,
    private readonly host: WorkerReports,
    private readonly opts: DriverOptions,
  ) {
    this.client = new ComfyClient(url);
    this.pollTimer = setInterval(() => void this.poll(), opts.pollMs);
    this.pollTimer.unref();
  }

  heldJobIds(): string[] {
    return [...this.active.keys()];
  }

  get hasCapacity(): boolean {
    return this.freeSlots > 0;
  }

  get freeSlots(): number {
    return this.state === 'online' && !this.draining ? Math.max(0, this.opts.capacity - this.active.size) : 0;
  }

  waitingJobs(): Job[] {
    return [...this.active.values()].filter((a) => a.phase === 'submitted').map((a) => a.job);
  }

  async takeBack(jobId: string): Promise<void> {
    const a = this.active.get(jobId);
    if (a?.phase !== 'submitted') return;
    a.phase = 'withdrawing';
    try {
      await this.client.deleteFromQueue([jobId]);
      // Same order as reconcile: the queue first, then the history.
      const queue = await this.client.queue();
      if (queue.running.includes(jobId) || queue.pending.includes(jobId)) {
        if (a.phase === 'withdrawing') a.phase = queue.running.includes(jobId) ? 'running' : 'submitted';
        return;
      }
      const entry = await this.client.history(jobId);
      if (entry) {
        await this.settleFromHistory(jobId, entry);
        return;
      }
    } catch {
      if (a.phase === 'withdrawing') a.phase = 'uncertain';
      return;
    }
    const taken = this.take(jobId);
    if (!taken) return;
    await this.report(taken, 'its withdrawal', () => this.host.withdrawn(this.id, jobId));
    this.host.idle(this.id);
  }

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.close();
    this.client.close();
  }

  /** Submits a job the engine claimed for this worker. */
  run(job: Job): void {
    this.active.set(job.id, { job, phase: 'submitting', lastSeen: this.opts.now(), cancelRequested: false });
    void this.submit(job);
  }

  /** Takes over a job this worker held before a restart; it is reconciled once the worker answers. */
  adopt(job: Job): void {
    this.active.set(job.id, { job, phase: 'uncertain', lastSeen: this.opts.now(), cancelRequested: false });
    if (this.state === 'online') void this.reconcile(job.id);
  }

  /** Interrupts a job running here (or takes it out of ComfyUI's queue). */
  async cancel(jobId: string): Promise<boolean> {
    const a = this.active.get(jobId);
    if (!a) return false;
    a.cancelRequested = true;
    try {
      await this.client.deleteFromQueue([jobId]);
      await this.client.interrupt(jobId);
    } catch {
      // Unreachable: the reconcile on reconnect settles it as cancelled.
    }
    setTimeout(() => void this.reconcile(jobId), 200).unref();
    return true;
  }

  private async submit(job: Job): Promise<void> {
    const body = {
      prompt: job.prompt,
      client_id: this.clientId,
      prompt_id: job.id,
      extra_data: { ...job.extraData, ...(job.sensitive ?? {}) },
      ...(job.targets ? { partial_execution_targets: job.targets } : {}),
    };
    // One submission at a time, in the order the engine claimed the jobs:
    // ComfyUI runs its queue by arrival (its `number`), and two requests in
    // flight at once may arrive in either order, swapping two jobs.
    const posted = this.lastSubmission.then(() => this.client.postPrompt(body));
    // The next submission waits for this answer, not for its success: a
    // failure is handled below, by this submission.
    this.lastSubmission = posted.catch(() => undefined);
    let result: Awaited<ReturnType<ComfyClient['postPrompt']>>;
    try {
      result = await posted;
    } catch (err) {
      const a = this.active.get(job.id);
      if (!a) return;
      if (err instanceof ComfyHttpError) {
        // ComfyUI failed inside its handler (5xx): the prompt was not queued.
        await this.settleLost(job.id, `ComfyUI answered HTTP ${err.status} to the submission`);
        return;
      }
      // The request may or may not have reached ComfyUI: ask it once it answers again.
      a.phase = 'uncertain';
      this.markOffline((err as Error).message);
      return;
    }
    const a = this.active.get(job.id);
    if (!a) return;
    if (!result.ok) {
      const taken = this.take(job.id);
      if (!taken) return;
      const patch = {
        status: 'failed' as const,
        endedAt: this.opts.now(),
        error: errorFromRejection(result.status, result.body),
      };
      await this.report(taken, 'its rejection', () => this.host.finished(this.id, job.id, patch));
      this.host.idle(this.id);
      return;
    }
    if (a.phase === 'submitting') a.phase = 'submitted';
    a.lastSeen = this.opts.now();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      this.systemStats = await this.client.systemStats();
    } catch (err) {
      this.markOffline((err as Error).message);
      this.scheduleReconnect();
      return;
    }
    this.socket = new ComfySocket(this.url, this.clientId, {
      onOpen: () => void this.online(),
      onMessage: (message, raw) => this.onMessage(message, raw),
      onBinary: (frame, raw) => this.onBinary(frame, raw),
      onClose: (reason) => {
        this.socket = null;
        this.markOffline(reason);
        this.scheduleReconnect();
      },
    });
  }

  private async online(): Promise<void> {
    this.backoffMs = 250;
    this.offlineSince = null;
    this.state = 'online';
    this.host.stateChanged(this.id, 'online');
    await Promise.all([...this.active.keys()].map((id) => this.reconcile(id)));
    this.host.idle(this.id);
  }

  private markOffline(reason: string): void {
    if (this.stopped) return;
    this.offlineSince ??= this.opts.now();
    if (this.state !== 'offline') {
      this.state = 'offline';
      this.executing = null;
      this.host.stateChanged(this.id, 'offline', reason);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, this.backoffMs);
    this.reconnectTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
  }

  private onMessage(message: ComfyMessage, raw: string): void {
    let pid = promptIdOf(message);
    if (message.type === 'executing' && !pid) pid = this.executing; // reconnect form, no prompt_id
    if (message.type === 'execution_start' && pid) this.executing = pid;
    const a = pid ? this.active.get(pid) : undefined;
    if (a) {
      a.lastSeen = this.opts.now();
      if (message.type === 'execution_start') a.phase = 'running';
      if (TERMINAL.has(message.type) && this.executing === pid) this.executing = null;
      if (message.type === 'executing' && message.data.node === null) void this.collect(a.job.id);
    }
    this.host.frame(this.id, a ? a.job.id : null, { kind: 'text', message, raw });
  }

  private onBinary(frame: BinaryFrame | null, raw: Buffer): void {
    const pid = frame && frame.type === 4 && 'metadata' in frame ? frame.metadata.prompt_id : this.executing;
    const jobId = pid && this.active.has(pid) ? pid : null;
    this.host.frame(this.id, jobId, { kind: 'binary', frame, raw });
  }

  /** ComfyUI said the prompt is over: its history entry exists now. */
  private async collect(jobId: string): Promise<void> {
    const a = this.active.get(jobId);
    if (!a || a.phase === 'collecting' || a.phase === 'reporting') return;
    a.phase = 'collecting';
    try {
      const entry = await this.client.history(jobId);
      if (entry) {
        await this.settleFromHistory(jobId, entry);
        return;
      }
    } catch {
      // fall through: the poll retries
    }
    if (this.active.get(jobId) === a) a.phase = 'running';
  }

  /**
   * Asks ComfyUI where a job is: its queue first, then its history — in that
   * order, because a prompt leaves the queue only after its history is written.
   */
  private async reconcile(jobId: string): Promise<void> {
    const a = this.active.get(jobId);
    if (!a || a.phase === 'submitting' || a.phase === 'collecting' || a.phase === 'withdrawing') return;
    try {
      const queue = await this.client.queue();
      if (queue.running.includes(jobId) || queue.pending.includes(jobId)) {
        if (a.phase === 'uncertain') a.phase = 'submitted';
        a.lastSeen = this.opts.now();
        return;
      }
      const entry = await this.client.history(jobId);
      if (!this.active.has(jobId)) return;
      if (entry) await this.settleFromHistory(jobId, entry);
      else if (a.cancelRequested) await this.settleCancelledBeforeRun(jobId);
      else
        await this.settleLost(jobId, 'ComfyUI has no record of the job (it restarted or never received it)');
    } catch {
      // Unreachable now; the next reconnect or poll tries again.
    }
  }

  private async settleFromHistory(
    jobId: string,
    entry: Parameters<typeof outcomeFromHistory>[0],
  ): Promise<void> {
    const taken = this.take(jobId);
    if (!taken) return;
    const outcome = outcomeFromHistory(entry);
    const patch = {
      status: outcome.status,
      endedAt: outcome.executionEnd ?? this.opts.now(),
      outputs: outcome.outputs,
      error: outcome.error,
    };
    await this.report(taken, 'its outcome', () => this.host.finished(this.id, jobId, patch));
    this.host.idle(this.id);
  }

  private async settleCancelledBeforeRun(jobId: string): Promise<void> {
    const taken = this.take(jobId);
    if (!taken) return;
    const patch = {
      status: 'cancelled' as const,
      endedAt: this.opts.now(),
      error: { type: 'interrupted', message: 'Cancelled before it started on the worker' },
    };
    await this.report(taken, 'its cancellation', () => this.host.finished(this.id, jobId, patch));
    this.host.idle(this.id);
  }

  private async settleLost(jobId: string, reason: string): Promise<void> {
    const taken = this.take(jobId);
    if (!taken) return;
    await this.report(taken, 'its loss', () => this.host.lost(this.id, jobId, reason));
    this.host.idle(this.id);
  }

  /** Takes a job out of `active` to report it; null when it is gone or already being reported. */
  private take(jobId: string): Active | null {
    const a = this.active.get(jobId);
    if (!a || a.phase === 'reporting') return null;
    this.active.delete(jobId);
    return a;
  }

  /**
   * Hands a report to the engine until the store has committed it. A failed
   * write (a full disk, a locked database) is retried with a growing, bounded
   * delay, and meanwhile the job is held here again (phase `reporting`): its
   * lease is renewed and it is neither forgotten nor settled twice.
   */
  private async report(a: Active, what: string, write: () => Promise<void>): Promise<void> {
    const jobId = a.job.id;
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        break;
      } catch (err) {
        if (this.stopped) {
          process.stderr.write(
            `comfy-queue: ${this.id}: job ${jobId}: ${what} was not recorded before shutdown (${(err as Error).message}); it is reconciled at the next start\n`,
          );
          return;
        }
        a.phase = 'reporting';
        this.active.set(jobId, a);
        process.stderr.write(
          `comfy-queue: ${this.id}: job ${jobId}: recording ${what} failed (try ${attempt}: ${(err as Error).message}); trying again in ${delay} ms\n`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 10_000);
      }
    }
    if (this.active.get(jobId) === a) this.active.delete(jobId);
  }

  private async poll(): Promise<void> {
    const now = this.opts.now();
    if (this.state !== 'online') {
      if (this.offlineSince !== null && now - this.offlineSince > this.opts.offlineTimeoutMs) {
        for (const id of [...this.active.keys()]) {
          await this.settleLost(
            id,
            `worker ${this.id} offline for more than ${this.opts.offlineTimeoutMs} ms`,
          );
        }
      }
      return;
    }
    for (const [id, a] of this.active) {
      if (now - a.lastSeen >= this.opts.pollMs) await this.reconcile(id);
    }
  }
}

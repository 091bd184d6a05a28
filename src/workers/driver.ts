/**
 * The driver of one ComfyUI server (a "worker"). It submits the jobs the
 * engine hands it under their own prompt_id and its own websocket clientId,
 * follows them over the websocket, takes the outcome once ComfyUI says the
 * prompt is over (from the run's messages when they tell it fully, else from
 * /history: src/comfy/run-record.ts), and reconciles whatever it could not
 * follow (a dropped socket, a comfy-queue restart) against ComfyUI's queue and
 * history, in that order, so that a job is re-run only when ComfyUI provably
 * does not have it.
 *
 * It also watches the worker's health: a probe every healthIntervalMs (GET
 * /queue with a short timeout, and a websocket ping that must be answered by
 * the next probe). After healthMisses misses in a row the worker counts as
 * unresponsive (offline): the jobs waiting in its queue go back to the queue at
 * once, the one running there after the offline timeout. Those given-up jobs
 * are remembered as stale, and when the worker answers again their copies are
 * deleted from its queue or interrupted before it gets any new work.
 */

import type { BinaryFrame } from '../comfy/binary-frames.js';
import { ComfyClient, ComfyHttpError } from '../comfy/client.js';
import type { ComfyMessage } from '../comfy/messages.js';
import { promptIdOf } from '../comfy/messages.js';
import { errorFromRejection, type Outcome, outcomeFromHistory } from '../comfy/outcome.js';
import { RunRecord } from '../comfy/run-record.js';
import { ComfySocket } from '../comfy/socket.js';
import type { Job } from '../domain/job.js';
import type { WorkerState } from '../engine/events.js';
import type { WorkerPort, WorkerReports } from '../engine/worker-port.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';

export interface DriverOptions {
  /** jobs held at once: 1 runs, the rest wait in ComfyUI's own queue */
  capacity: number;
  /** a worker offline this long gives its jobs back to the queue */
  offlineTimeoutMs: number;
  /** how often jobs that went quiet are checked against ComfyUI */
  pollMs: number;
  now: () => number;
  /** any HTTP call to the worker fails after this long without an answer (default 30 s) */
  requestTimeoutMs?: number;
  /** how often the worker's health is probed (default 5 s) */
  healthIntervalMs?: number;
  /** a probe unanswered this long is a miss (default 10 s) */
  healthTimeoutMs?: number;
  /** misses in a row after which the worker is unresponsive (default 3) */
  healthMisses?: number;
  /**
   * a running job from which no websocket message came for this long is
   * interrupted and reported failed as `stalled` (default 10 minutes; 0 = never)
   */
  stallTimeoutMs?: number;
  /** a CA certificate (PEM) trusted for an https:// worker */
  ca?: string | null;
  log?: Logger;
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
  /** when ComfyUI last sent anything about this job (a message or a preview), for the stall rule */
  lastMessage: number;
  cancelRequested: boolean;
  /** what this run's messages said, from its execution_start on one socket */
  run: { record: RunRecord; socket: ComfySocket | null } | null;
}

/** The stall rule's default: long enough for a slow node that reports no progress (a big VAE decode). */
export const DEFAULT_STALL_TIMEOUT_MS = 10 * 60_000;

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
  private polling = false;
  private readonly healthTimer: NodeJS.Timeout;
  private probing = false;
  private misses = 0;
  /**
   * Jobs given up while the worker was unreachable (back to the queue, maybe run elsewhere since):
   * their copies on the worker are deleted or interrupted when it answers again, before new work.
   */
  private readonly stale = new Set<string>();
  /** the prompt ComfyUI says it is executing now, for frames that carry no prompt_id */
  private executing: string | null = null;
  /** the last POST /prompt sent: the next waits for its answer (see submit) */
  private lastSubmission: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  private readonly healthTimeoutMs: number;
  /** the worker's output node types, once its /object_info was read (knowOutputNodes) */
  private outputNodes: ReadonlySet<string> | null = null;

  constructor(
    readonly id: string,
    readonly url: string,
    readonly clientId: string,
    private readonly host: WorkerReports,
    private readonly opts: DriverOptions,
  ) {
    this.log = opts.log ?? silentLogger;
    this.healthTimeoutMs = opts.healthTimeoutMs ?? 10_000;
    this.client = new ComfyClient(url, { timeoutMs: opts.requestTimeoutMs, ca: opts.ca });
    this.pollTimer = setInterval(() => this.background('poll', this.poll()), opts.pollMs);
    this.pollTimer.unref();
    this.healthTimer = setInterval(
      () => this.background('health probe', this.probe()),
      opts.healthIntervalMs ?? 5_000,
    );
    this.healthTimer.unref();
  }

  /** Runs work nobody awaits; a failure (the store refused a report, a bug) is logged, never lost. */
  private background(what: string, work: Promise<unknown>): void {
    work.catch((err) => {
      if (!this.stopped) this.log.error({ err }, `${what} failed: ${errMessage(err)}`);
    });
  }

  /** Ids of jobs given up while the worker was away whose copies are not cleaned up yet. */
  staleJobIds(): string[] {
    return [...this.stale];
  }

  heldJobIds(): string[] {
    return [...this.active.keys()];
  }

  knowOutputNodes(types: ReadonlySet<string>): void {
    this.outputNodes = types;
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  set capacity(n: number) {
    this.opts.capacity = n;
  }

  objectInfo(): Promise<Record<string, unknown>> {
    return this.client.objectInfo();
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
    } catch (err) {
      // Safe: the job stays held as `uncertain`, and the poll asks the worker where it is.
      this.log.warn({ job: jobId, err }, `taking a waiting job back failed: ${errMessage(err)}`);
      if (a.phase === 'withdrawing') a.phase = 'uncertain';
      return;
    }
    const taken = this.take(jobId);
    if (!taken) return;
    await this.report(taken, 'its withdrawal', () =>
      this.host.withdrawn(this.id, jobId, undefined, taken.job.attempts),
    );
    this.host.idle(this.id);
  }

  start(): void {
    this.background('connect', this.connect());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearInterval(this.healthTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.close();
    this.client.close();
  }

  /** Submits a job the engine claimed for this worker. */
  run(job: Job): void {
    const now = this.opts.now();
    this.active.set(job.id, {
      job,
      phase: 'submitting',
      lastSeen: now,
      lastMessage: now,
      cancelRequested: false,
      run: null,
    });
    this.background('submission', this.submit(job));
  }

  /** Takes over a job this worker held before a restart; it is reconciled once the worker answers. */
  adopt(job: Job): void {
    const now = this.opts.now();
    this.active.set(job.id, {
      job,
      phase: 'uncertain',
      lastSeen: now,
      lastMessage: now,
      cancelRequested: false,
      run: null,
    });
    if (this.state === 'online') this.background('reconcile', this.reconcile(job.id));
  }

  /**
   * Interrupts a job running here (or takes it out of ComfyUI's queue). A job
   * whose submission is still under way is cancelled again once it is
   * submitted: ComfyUI may not have known the prompt yet, and the cancel would
   * be lost.
   */
  async cancel(jobId: string): Promise<boolean> {
    const a = this.active.get(jobId);
    if (!a) return false;
    a.cancelRequested = true;
    this.log.info({ job: jobId, phase: a.phase }, 'cancel requested');
    // While submitting too: the prompt may already run there (its answer is slower than its frames);
    // the submission's end sends the cancel again for a prompt that was not queued yet.
    await this.enforceCancel(jobId);
    return true;
  }

  /** Takes a cancelled job out of ComfyUI's queue and interrupts it if it runs; the reconcile that follows settles it. */
  private async enforceCancel(jobId: string): Promise<void> {
    try {
      await this.client.deleteFromQueue([jobId]);
      await this.client.interrupt(jobId);
    } catch (err) {
      // Safe: the cancel is remembered (cancelRequested); the reconcile on reconnect or the poll settles it.
      this.log.warn({ job: jobId, err }, `cancel not delivered to the worker yet: ${errMessage(err)}`);
    }
    setTimeout(() => this.background('reconcile', this.reconcile(jobId)), 200).unref();
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
    // Each waits for the previous answer to settle, whatever it was: a failure is
    // handled (and logged) below, by the submission it belongs to.
    const posted = Promise.allSettled([this.lastSubmission]).then(() => this.client.postPrompt(body));
    this.lastSubmission = posted;
    let result: Awaited<ReturnType<ComfyClient['postPrompt']>>;
    try {
      result = await posted;
    } catch (err) {
      const a = this.active.get(job.id);
      if (!a) return;
      if (err instanceof ComfyHttpError) {
        // ComfyUI failed inside its handler (5xx): the prompt was not queued.
        this.log.warn({ job: job.id, status: err.status }, `submission failed: ${err.message}`);
        await this.settleLost(job.id, `ComfyUI answered HTTP ${err.status} to the submission`);
        return;
      }
      // The request may or may not have reached ComfyUI: ask it once it answers again.
      this.log.warn({ job: job.id, err }, `submission unanswered: ${errMessage(err)}`);
      a.phase = 'uncertain';
      // Reconnecting is what brings the worker back online and reconciles the job.
      if (this.socket) this.dropSocket(this.socket, errMessage(err));
      else this.markOffline(errMessage(err));
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
      await this.report(taken, 'its rejection', () =>
        this.host.finished(this.id, job.id, patch, taken.job.attempts),
      );
      this.host.idle(this.id);
      return;
    }
    if (a.phase === 'submitting') a.phase = 'submitted';
    a.lastSeen = this.opts.now();
    this.log.debug({ job: job.id }, 'job submitted');
    // A cancel that came while the submission was under way: ComfyUI has the prompt only now.
    if (a.cancelRequested) await this.enforceCancel(job.id);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      this.systemStats = await this.client.systemStats(this.healthTimeoutMs);
    } catch (err) {
      this.markOffline(errMessage(err));
      this.scheduleReconnect();
      return;
    }
    const socket = new ComfySocket(
      this.url,
      this.clientId,
      {
        onOpen: () => this.background('coming online', this.online(socket)),
        onMessage: (message, raw) => this.onMessage(message, raw),
        onBinary: (frame, raw) => this.onBinary(frame, raw),
        onClose: (reason) => {
          if (this.socket === socket) this.socket = null;
          this.markOffline(reason);
          this.scheduleReconnect();
        },
      },
      { ca: this.opts.ca, handshakeTimeoutMs: this.healthTimeoutMs },
    );
    this.socket = socket;
  }

  private async online(socket: ComfySocket): Promise<void> {
    // Before the worker gets work again: copies of jobs given up while it was away must not run on.
    if (this.stale.size > 0) {
      try {
        await this.purgeStale();
      } catch (err) {
        this.log.warn(
          { err },
          `removing stale jobs from the worker failed: ${errMessage(err)}; reconnecting`,
        );
        this.dropSocket(socket, `stale jobs not removed: ${errMessage(err)}`);
        return;
      }
    }
    if (this.socket !== socket || this.stopped) return;
    this.backoffMs = 250;
    this.offlineSince = null;
    this.misses = 0;
    this.state = 'online';
    this.log.info(`worker ${this.id} online (${this.url})`);
    this.host.stateChanged(this.id, 'online');
    await Promise.all([...this.active.keys()].map((id) => this.reconcile(id)));
    this.host.idle(this.id);
  }

  /**
   * Deletes from the worker's queue, or interrupts, every stale job: it went
   * back to comfy-queue's queue while the worker was unreachable, and may be
   * running elsewhere by now.
   */
  private async purgeStale(): Promise<void> {
    const ids = [...this.stale];
    await this.client.deleteFromQueue(ids);
    const queue = await this.client.queue();
    const interrupted = queue.running.filter((id) => this.stale.has(id));
    for (const id of interrupted) await this.client.interrupt(id);
    for (const id of ids) this.stale.delete(id);
    this.log.warn(
      { jobs: ids, interrupted },
      `removed ${ids.length} job(s) given up while the worker was unreachable from its queue${interrupted.length ? `, interrupted ${interrupted.length}` : ''}`,
    );
  }

  private dropSocket(socket: ComfySocket, reason: string): void {
    socket.close(); // closed on purpose: its onClose does not fire
    if (this.socket === socket) this.socket = null;
    this.markOffline(reason);
    this.scheduleReconnect();
  }

  private markOffline(reason: string): void {
    if (this.stopped) return;
    this.offlineSince ??= this.opts.now();
    if (this.state !== 'offline') {
      this.state = 'offline';
      this.executing = null;
      this.log.warn({ reason, held: this.active.size }, `worker ${this.id} offline: ${reason}`);
      this.host.stateChanged(this.id, 'offline', reason);
      this.releaseWaiting();
    }
  }

  /**
   * The worker is away: jobs that were only waiting in its queue go back to
   * comfy-queue's queue at once (another worker may take them) and become
   * stale here. A job already running there is kept until the offline
   * timeout: the worker may come back and finish it.
   */
  private releaseWaiting(): void {
    for (const [id, a] of [...this.active]) {
      if (a.phase !== 'submitted') continue;
      this.active.delete(id);
      this.stale.add(id);
      this.background(
        'releasing a waiting job',
        a.cancelRequested
          ? this.reportCancelled(a, 'Cancelled; its worker was unreachable')
          : this.report(a, 'its withdrawal', () =>
              this.host.withdrawn(
                this.id,
                id,
                `worker ${this.id} unreachable: the job had not started there`,
                a.job.attempts,
              ),
            ),
      );
    }
  }

  /** One liveness probe: GET /queue with a short timeout, and the previous websocket ping answered. */
  private async probe(): Promise<void> {
    const socket = this.socket;
    if (this.probing || this.stopped || this.state !== 'online' || !socket) return;
    this.probing = true;
    let miss: string | null = null;
    try {
      if (!socket.ping()) miss = 'no answer to the websocket ping';
      await this.client.queue(this.healthTimeoutMs);
    } catch (err) {
      miss = errMessage(err);
    } finally {
      this.probing = false;
    }
    if (this.socket !== socket || this.state !== 'online') return;
    if (miss === null) {
      this.misses = 0;
      return;
    }
    this.misses++;
    const limit = this.opts.healthMisses ?? 3;
    this.log.warn({ misses: this.misses, of: limit }, `health check missed: ${miss}`);
    if (this.misses >= limit) {
      this.misses = 0;
      this.dropSocket(socket, `unresponsive (${limit} health checks missed: ${miss})`);
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.background('reconnect', this.connect());
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
      a.lastSeen = a.lastMessage = this.opts.now();
      if (message.type === 'execution_start') {
        a.phase = 'running';
        a.run = { record: new RunRecord(), socket: this.socket };
      }
      a.run?.record.observe(message);
      if (TERMINAL.has(message.type) && this.executing === pid) this.executing = null;
      // Only a run seen to start is collected: an end for a job not started here yet is the end of an
      // earlier run under the same prompt_id (a stalled one, interrupted before the job came back);
      // the poll reconciles a job whose start went unseen.
      if (message.type === 'executing' && message.data.node === null && a.phase === 'running')
        this.background('collecting the outcome', this.collect(a.job.id));
    }
    this.host.frame(this.id, a ? a.job.id : null, { kind: 'text', message, raw });
  }

  private onBinary(frame: BinaryFrame | null, raw: Buffer): void {
    const pid = frame && frame.type === 4 && 'metadata' in frame ? frame.metadata.prompt_id : this.executing;
    const jobId = pid && this.active.has(pid) ? pid : null;
    const a = jobId ? this.active.get(jobId) : undefined;
    if (a) a.lastSeen = a.lastMessage = this.opts.now();
    this.host.frame(this.id, jobId, { kind: 'binary', frame, raw });
  }

  /** ComfyUI said the prompt is over: its history entry exists now. */
  private async collect(jobId: string): Promise<void> {
    const a = this.active.get(jobId);
    if (!a || a.phase === 'collecting' || a.phase === 'reporting') return;
    a.phase = 'collecting';
    try {
      // A run followed from its start on this socket that ended well told its outputs itself.
      const told =
        a.run?.socket === this.socket ? a.run.record.outcome((node) => this.isOutputNode(a.job, node)) : null;
      if (told) {
        await this.settle(jobId, told);
        return;
      }
      const entry = await this.client.history(jobId);
      if (entry) {
        await this.settleFromHistory(jobId, entry);
        return;
      }
    } catch (err) {
      // Safe: the job stays held as running; the poll reads the history again.
      this.log.warn({ job: jobId, err }, `reading the outcome failed: ${errMessage(err)}`);
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
        // Running although its execution_start went unseen (a reconnect): the stall rule watches it from now.
        if (a.phase === 'submitted' && queue.running.includes(jobId)) {
          a.phase = 'running';
          a.lastMessage = this.opts.now();
        }
        a.lastSeen = this.opts.now();
        // Still there although cancelled (the cancel met a prompt not yet queued, or a lost request).
        if (a.cancelRequested) await this.enforceCancel(jobId);
        return;
      }
      const entry = await this.client.history(jobId);
      if (!this.active.has(jobId)) return;
      if (entry) await this.settleFromHistory(jobId, entry);
      else if (a.cancelRequested) await this.settleCancelledBeforeRun(jobId);
      else
        await this.settleLost(jobId, 'ComfyUI has no record of the job (it restarted or never received it)');
    } catch (err) {
      // Safe: the job stays held; the next reconnect or poll asks again (the health probe notices a dead worker).
      this.log.debug({ job: jobId, err }, `reconcile: worker not answering: ${errMessage(err)}`);
    }
  }

  /** Whether a node of the job's prompt is an output node here; undefined when not known. */
  private isOutputNode(job: Job, nodeId: string): boolean | undefined {
    const type = (job.prompt[nodeId] as { class_type?: unknown } | undefined)?.class_type;
    if (!this.outputNodes || typeof type !== 'string') return undefined;
    return this.outputNodes.has(type);
  }

  private settleFromHistory(jobId: string, entry: Parameters<typeof outcomeFromHistory>[0]): Promise<void> {
    return this.settle(jobId, outcomeFromHistory(entry));
  }

  private async settle(jobId: string, outcome: Outcome): Promise<void> {
    const taken = this.take(jobId);
    if (!taken) return;
    const patch = {
      status: outcome.status,
      endedAt: outcome.executionEnd ?? this.opts.now(),
      outputs: outcome.outputs,
      error: outcome.error,
    };
    await this.report(taken, 'its outcome', () =>
      this.host.finished(this.id, jobId, patch, taken.job.attempts),
    );
    this.host.idle(this.id);
  }

  private async settleCancelledBeforeRun(jobId: string): Promise<void> {
    const taken = this.take(jobId);
    if (!taken) return;
    await this.reportCancelled(taken, 'Cancelled before it started on the worker');
  }

  private async reportCancelled(a: Active, message: string): Promise<void> {
    const patch = {
      status: 'cancelled' as const,
      endedAt: this.opts.now(),
      error: { type: 'interrupted', message },
    };
    await this.report(a, 'its cancellation', () =>
      this.host.finished(this.id, a.job.id, patch, a.job.attempts),
    );
    this.host.idle(this.id);
  }

  /** The job is not on the worker (or given up): back to the queue — or cancelled, when that was asked. */
  private async settleLost(jobId: string, reason: string): Promise<void> {
    const taken = this.take(jobId);
    if (!taken) return;
    if (taken.cancelRequested) {
      await this.reportCancelled(taken, 'Cancelled; the worker no longer had it');
    } else {
      this.log.warn({ job: jobId }, `job lost: ${reason}`);
      await this.report(taken, 'its loss', () => this.host.lost(this.id, jobId, reason, taken.job.attempts));
    }
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
          this.log.warn(
            { err, job: jobId },
            `${what} was not recorded before shutdown (${errMessage(err)}); it is reconciled at the next start`,
          );
          return;
        }
        a.phase = 'reporting';
        this.active.set(jobId, a);
        this.log.error(
          { err, job: jobId, attempt, retryInMs: delay },
          `recording ${what} failed: ${errMessage(err)}; trying again`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 10_000);
      }
    }
    if (this.active.get(jobId) === a) this.active.delete(jobId);
  }

  private async poll(): Promise<void> {
    if (this.state !== 'online') {
      // Not behind `polling`: a reconcile stuck on a frozen worker must not delay giving its jobs up.
      await this.giveUpIfAwayTooLong();
      return;
    }
    if (this.polling) return; // a poll waiting on a slow worker is not doubled
    this.polling = true;
    try {
      await this.pollOnce();
    } finally {
      this.polling = false;
    }
  }

  /** Jobs of a worker offline longer than the offline timeout go back to the queue, to run elsewhere. */
  private async giveUpIfAwayTooLong(): Promise<void> {
    const now = this.opts.now();
    if (this.offlineSince === null || now - this.offlineSince <= this.opts.offlineTimeoutMs) return;
    for (const id of [...this.active.keys()]) {
      // Its copy there (if it comes back) must not run on once the job is handed elsewhere.
      this.stale.add(id);
      await this.settleLost(id, `worker ${this.id} offline for more than ${this.opts.offlineTimeoutMs} ms`);
    }
  }

  private async pollOnce(): Promise<void> {
    const now = this.opts.now();
    const stallMs = this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    for (const [id, a] of [...this.active]) {
      if (this.state !== 'online') return;
      if (stallMs > 0 && a.phase === 'running' && now - a.lastMessage >= stallMs) await this.stall(id);
      else if (now - a.lastSeen >= this.opts.pollMs) await this.reconcile(id);
    }
  }

  /**
   * The stall rule: a job running here from which no message came for the
   * stall timeout is hung (a deadlocked node, a wedged GPU). It is
   * interrupted and reported failed as `stalled`, a worker failure: it goes to
   * another worker within the retry budget, and the worker's record counts it.
   */
  private async stall(jobId: string): Promise<void> {
    const a = this.active.get(jobId);
    if (a?.phase !== 'running') return;
    const quietMs = this.opts.now() - a.lastMessage;
    try {
      await this.client.interrupt(jobId);
    } catch (err) {
      // Safe: the job is reported stalled either way; a worker that does not answer is found
      // unresponsive by the health probe, and its queue is reconciled when it comes back.
      this.log.warn({ job: jobId, err }, `interrupting a stalled job failed: ${errMessage(err)}`);
    }
    const taken = this.take(jobId);
    if (!taken) return;
    const seconds = Math.round(quietMs / 100) / 10;
    const patch = {
      status: 'failed' as const,
      endedAt: this.opts.now(),
      error: {
        type: 'stalled',
        message: `No message from worker ${this.id} for ${seconds} s while the job ran; interrupted`,
      },
    };
    this.log.warn({ job: jobId, quietMs }, `job stalled: ${patch.error.message}`);
    if (this.executing === jobId) this.executing = null;
    await this.report(taken, 'its stall', () =>
      this.host.finished(this.id, jobId, patch, taken.job.attempts),
    );
    this.host.idle(this.id);
  }
}

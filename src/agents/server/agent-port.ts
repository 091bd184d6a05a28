/**
 * The server's side of one remote agent: a WorkerPort the engine drives like
 * a push worker, over the agent's connection (a websocket or HTTP long-poll:
 * agent-connection.ts) instead of ComfyUI's HTTP API.
 * It hands claimed jobs to the agent, passes the agent's reports to the
 * engine (refusing those of an earlier claim: fencing), relays its ComfyUI
 * frames, renews leases when the agent asks, and fetches files from the
 * agent. While the agent is away it holds its jobs; the lease sweeper
 * (lease-sweeper.ts) takes them back when their lease ends.
 */
import { decodeBinaryFrame } from '../../comfy/binary-frames.js';
import { ComfyHttpError } from '../../comfy/client.js';
import { parseComfyMessage } from '../../comfy/messages.js';
import type { Job } from '../../domain/job.js';
import type { WorkerState } from '../../engine/events.js';
import type { WorkerPort, WorkerReports } from '../../engine/worker-port.js';
import { errMessage, type Logger } from '../../logging/logger.js';
import type { JobStore } from '../../store/job-store.js';
import {
  type AgentBinaryHeader,
  type AgentMessage,
  decodeBinary,
  type Envelope,
  type FileRef,
  type HelloMessage,
  type JobClaim,
  parseMessage,
  type ServerMessage,
} from '../protocol.js';
import type { AgentConnection, AgentTransport } from './agent-connection.js';

export interface AgentPortOptions {
  leaseMs: number;
  now: () => number;
  /** how long a request to the agent (object_info, a file) may take */
  requestTimeoutMs?: number;
  /** the agent said hello: its own capacity and tags (its command line) */
  onHello?: (capacity: number, tags: string[]) => Promise<void>;
  log: Logger;
}

interface Held {
  job: Job;
  /** ComfyUI started it (an execution_start came) */
  running: boolean;
  cancel: boolean;
}

interface PendingRequest {
  chunks: Buffer[];
  resolve(body: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

const ACK_DELAY_MS = 100;
/** Sessions remembered per agent (a few restarts' worth of unacknowledged messages). */
const MAX_SESSIONS = 16;

export class AgentPort implements WorkerPort {
  readonly url: string;
  readonly renewsOwnLeases = true;
  state: WorkerState = 'offline';
  draining = false;
  systemStats: Record<string, unknown> | null = null;
  private conn: AgentConnection | null = null;
  private readonly held = new Map<string, Held>();
  /** per session of the agent: the last sequence number taken */
  private readonly taken = new Map<string, number>();
  private readonly pendingAcks = new Map<string, number>();
  private ackTimer: NodeJS.Timeout | null = null;
  private readonly requests = new Map<number, PendingRequest>();
  private nextRequest = 1;
  /** messages of the current connection are handled one after another, in order */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    readonly id: string,
    public capacity: number,
    private readonly host: WorkerReports,
    private readonly store: JobStore,
    private readonly opts: AgentPortOptions,
  ) {
    this.url = `agent:${id}`;
  }

  get connected(): boolean {
    return this.conn !== null;
  }

  /** what carries the current connection; null while the agent is away */
  get transport(): AgentTransport | null {
    return this.conn?.transport ?? null;
  }

  get hasCapacity(): boolean {
    return this.freeSlots > 0;
  }

  get freeSlots(): number {
    if (this.state !== 'online' || !this.conn || this.draining) return 0;
    return Math.max(0, this.capacity - this.held.size);
  }

  heldJobIds(): string[] {
    return [...this.held.keys()];
  }

  /** The claim under which the port holds a job, or null. */
  heldClaim(jobId: string): JobClaim | null {
    const h = this.held.get(jobId);
    return h ? { id: jobId, attempt: h.job.attempts } : null;
  }

  start(): void {
    // The agent connects in; nothing to start.
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Going away (the server stops, or the worker is removed: its credential is revoked next, and
    // the agent's reconnect is refused).
    const conn = this.conn;
    this.detach(conn, 'stopped');
    conn?.close(1001, 'server going away');
    if (this.ackTimer) clearTimeout(this.ackTimer);
  }

  run(job: Job): void {
    this.held.set(job.id, { job, running: false, cancel: false });
    this.send({ t: 'run', job });
  }

  adopt(job: Job): void {
    this.held.set(job.id, { job, running: false, cancel: false });
    this.send({ t: 'adopt', job, cancel: false });
  }

  async cancel(jobId: string): Promise<boolean> {
    const h = this.held.get(jobId);
    if (!h) return false;
    h.cancel = true;
    this.send({ t: 'cancel', id: jobId });
    return true;
  }

  waitingJobs(): Job[] {
    return [...this.held.values()].filter((h) => !h.running).map((h) => h.job);
  }

  async takeBack(jobId: string): Promise<void> {
    const h = this.held.get(jobId);
    if (!h || h.running || !this.conn) return;
    this.send({ t: 'takeBack', id: jobId });
  }

  async objectInfo(): Promise<Record<string, unknown>> {
    const body = await this.request({ op: 'objectInfo' });
    return JSON.parse(body.toString()) as Record<string, unknown>;
  }

  /** Its ComfyUI's /system_stats, asked through the agent (telemetry reads it like a push worker's). */
  readonly client = {
    objectInfo: () => this.objectInfo(),
    systemStats: async (): Promise<Record<string, unknown>> => {
      const stats = JSON.parse((await this.request({ op: 'systemStats' })).toString()) as Record<
        string,
        unknown
      >;
      this.systemStats = stats;
      return stats;
    },
  };

  /** A file a job produced on the agent's ComfyUI (its /view). */
  fetchFile(file: FileRef): Promise<Buffer> {
    return this.request({ op: 'view', file });
  }

  /**
   * The job's lease ended without the agent renewing it and the store gave it
   * back to the queue: the port lets it go, and the agent is told to
   * interrupt and delete its copy (now, or when it is back).
   */
  forget(jobId: string, attempt: number, reason: string): void {
    const h = this.held.get(jobId);
    if (h && h.job.attempts === attempt) this.held.delete(jobId);
    this.send({ t: 'drop', jobs: [{ id: jobId, attempt }], reason });
  }

  // ---- the connection -------------------------------------------------

  /** A newly authenticated connection of this agent; an older one is closed (the newest wins). */
  attach(conn: AgentConnection, pingMs: number): void {
    const old = this.conn;
    if (old) {
      this.detach(old, 'replaced by a new connection');
      old.close(4002, 'replaced by a new connection');
    }
    this.conn = conn;
    this.chain = Promise.resolve();
    conn.listen({
      binary: (data) => this.onBinary(data),
      text: (data) => {
        const m = parseMessage<AgentMessage>(data);
        if (!m) {
          this.opts.log.warn({ agent: this.id }, 'agent sent a message that is not JSON; ignored');
          return;
        }
        this.chain = this.chain
          .then(() => this.handle(conn, m, pingMs))
          .catch((err) => {
            this.opts.log.error(
              { err, agent: this.id },
              `handling an agent message failed: ${errMessage(err)}`,
            );
          });
      },
      closed: (reason) => this.detach(conn, reason),
    });
  }

  /** Ends the current connection (the credential was revoked, the agent removed). */
  disconnect(code: number, reason: string): void {
    const conn = this.conn;
    if (!conn) return;
    this.detach(conn, reason);
    conn.close(code, reason);
  }

  private detach(conn: AgentConnection | null, reason: string): void {
    if (!conn || this.conn !== conn) return;
    this.conn = null;
    this.flushAcks();
    for (const [id, r] of this.requests) {
      clearTimeout(r.timer);
      r.reject(new Error(`agent ${this.id} disconnected`));
      this.requests.delete(id);
    }
    if (this.state !== 'offline') {
      this.state = 'offline';
      this.opts.log.warn({ agent: this.id, held: this.held.size }, `agent ${this.id} offline: ${reason}`);
      if (!this.stopped) this.host.stateChanged(this.id, 'offline', `agent ${reason}`);
    }
  }

  private send(m: ServerMessage): void {
    this.conn?.send(m);
  }

  private async handle(conn: AgentConnection, m: AgentMessage, pingMs: number): Promise<void> {
    if (this.conn !== conn) return;
    switch (m.t) {
      case 'hello':
        return this.hello(m, pingMs);
      case 'seq':
        return this.sequenced(conn, m.e);
      case 'state':
        this.systemStats = m.systemStats ?? this.systemStats;
        return this.setState(m.state, m.detail);
      case 'renew':
        return this.renew(m.jobs);
      case 'broadcast': {
        const parsed = parseComfyMessage(m.raw);
        if (parsed.ok) this.host.frame(this.id, null, { kind: 'text', message: parsed.message, raw: m.raw });
        return;
      }
    }
  }

  private async hello(m: HelloMessage, pingMs: number): Promise<void> {
    const acked: Record<string, number> = {};
    for (const s of m.sessions.slice(0, MAX_SESSIONS)) acked[s] = this.taken.get(s) ?? 0;
    this.send({ t: 'welcome', agent: this.id, acked, leaseMs: this.opts.leaseMs, pingMs });
    this.systemStats = m.systemStats;
    if (this.opts.onHello) {
      this.capacity = m.capacity;
      await this.opts.onHello(m.capacity, m.tags);
    }
    // What the store says the agent holds, against what the agent says it holds.
    const mine = (await this.store.listInProgress()).filter((j) => j.worker === this.id);
    // Copies of claims that moved on first: a new claim of the same job waits for its old copy to end.
    const stale = m.holding.filter((c) => !mine.some((j) => j.id === c.id && j.attempts === c.attempt));
    if (stale.length > 0) {
      this.opts.log.warn(
        { agent: this.id, jobs: stale.map((c) => c.id) },
        `agent ${this.id} holds ${stale.length} job(s) that moved on while it was away: interrupting them there`,
      );
      this.send({ t: 'drop', jobs: stale, reason: 'the job moved on while the agent was away' });
    }
    const says = new Map(m.holding.map((c) => [c.id, c.attempt]));
    for (const job of mine) {
      const h = this.held.get(job.id);
      if (!h || h.job.attempts !== job.attempts)
        this.held.set(job.id, { job, running: false, cancel: h?.cancel ?? false });
      if (says.get(job.id) !== job.attempts)
        this.send({ t: 'adopt', job, cancel: this.held.get(job.id)?.cancel ?? false });
    }
    for (const id of [...this.held.keys()]) if (!mine.some((j) => j.id === id)) this.held.delete(id);
    this.opts.log.info({ agent: this.id }, `agent ${this.id} connected`);
    await this.setState(m.state);
  }

  private async setState(state: WorkerState, detail?: string): Promise<void> {
    if (state === this.state) return;
    this.state = state;
    this.opts.log.info({ agent: this.id, detail }, `agent ${this.id}: its ComfyUI is ${state}`);
    this.host.stateChanged(this.id, state, detail);
  }

  private async renew(jobs: JobClaim[]): Promise<void> {
    const ids = jobs.filter((c) => this.held.get(c.id)?.job.attempts === c.attempt).map((c) => c.id);
    if (ids.length === 0) return;
    try {
      await this.store.renewLeases(this.id, ids, this.opts.now() + this.opts.leaseMs);
    } catch (err) {
      // Safe: the agent renews again a quarter of a lease later.
      this.opts.log.warn(
        { err, agent: this.id },
        `renewing the leases of agent ${this.id} failed: ${errMessage(err)}`,
      );
    }
  }

  private async sequenced(conn: AgentConnection, e: Envelope): Promise<void> {
    if (typeof e?.s !== 'string' || typeof e.q !== 'number' || !e.m) return;
    const last = this.taken.get(e.s) ?? 0;
    if (e.q > last) {
      const done = await this.take(conn, e);
      if (!done) return; // the connection ended before it was recorded: the agent sends it again
      this.taken.delete(e.s); // re-inserted: the map keeps its newest sessions last
      this.taken.set(e.s, e.q);
      if (this.taken.size > MAX_SESSIONS) this.taken.delete(this.taken.keys().next().value!);
    }
    if (e.m.t === 'frame') this.ackLater(e.s, e.q);
    else this.send({ t: 'ack', s: e.s, q: e.q });
  }

  /** Applies one sequenced message; false when the connection ended before it was recorded. */
  private async take(conn: AgentConnection, e: Envelope): Promise<boolean> {
    const m = e.m;
    if (m.t === 'frame') {
      const h = this.held.get(m.job);
      if (!h || h.job.attempts !== m.attempt) return true; // a frame of a claim that moved on
      const parsed = parseComfyMessage(m.raw);
      if (!parsed.ok) return true;
      if (parsed.message.type === 'execution_start') h.running = true;
      this.host.frame(this.id, m.job, { kind: 'text', message: parsed.message, raw: m.raw });
      return true;
    }
    const current = await this.store.get(m.job);
    if (current?.status !== 'in_progress' || current.worker !== this.id || current.attempts !== m.attempt) {
      this.opts.log.warn(
        { agent: this.id, job: m.job, attempt: m.attempt, report: m.t },
        `report of an earlier claim refused: job ${m.job} moved on`,
      );
      this.send({
        t: 'refused',
        job: m.job,
        attempt: m.attempt,
        reason: 'the job moved on (an earlier claim)',
      });
      return true;
    }
    const h = this.held.get(m.job);
    if (h && h.job.attempts === m.attempt) this.held.delete(m.job);
    let delay = 250;
    for (;;) {
      try {
        if (m.t === 'finished') await this.host.finished(this.id, m.job, m.patch, m.attempt);
        else if (m.t === 'lost') await this.host.lost(this.id, m.job, m.reason, m.attempt);
        else await this.host.withdrawn(this.id, m.job, m.reason, m.attempt);
        return true;
      } catch (err) {
        this.opts.log.error(
          { err, agent: this.id, job: m.job, retryInMs: delay },
          `recording the agent's report failed: ${errMessage(err)}; trying again`,
        );
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 10_000);
        if (this.conn !== conn || this.stopped) {
          if (h) this.held.set(m.job, h);
          return false;
        }
      }
    }
  }

  private ackLater(s: string, q: number): void {
    this.pendingAcks.set(s, q);
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
    this.ackTimer.unref();
  }

  private flushAcks(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    for (const [s, q] of this.pendingAcks) this.send({ t: 'ack', s, q });
    this.pendingAcks.clear();
  }

  private onBinary(data: Buffer): void {
    const msg = decodeBinary<AgentBinaryHeader>(data);
    if (!msg) return;
    const { header, body } = msg;
    if (header.t === 'chunk') {
      const r = this.requests.get(header.id);
      if (!r) return;
      if (header.error) {
        this.requests.delete(header.id);
        clearTimeout(r.timer);
        // An HTTP refusal of its ComfyUI (a file it no longer has) reads as one of a push worker's.
        r.reject(
          header.status
            ? new ComfyHttpError(header.status, null, header.error)
            : new AgentRequestError(header.error),
        );
        return;
      }
      r.chunks.push(Buffer.from(body));
      if (header.last) {
        this.requests.delete(header.id);
        clearTimeout(r.timer);
        r.resolve(Buffer.concat(r.chunks));
      }
      return;
    }
    if (header.t === 'preview') {
      const h = header.job ? this.held.get(header.job) : undefined;
      const jobId = h && h.job.attempts === header.attempt ? header.job : null;
      if (header.job && !jobId) return; // a preview of a claim that moved on
      const raw = Buffer.from(body);
      this.host.frame(this.id, jobId, { kind: 'binary', frame: decodeBinaryFrame(raw), raw });
    }
  }

  private request(
    req: { op: 'objectInfo' | 'systemStats' } | { op: 'view'; file: FileRef },
  ): Promise<Buffer> {
    if (!this.conn) return Promise.reject(new Error(`agent ${this.id} is not connected`));
    const id = this.nextRequest++;
    const timeoutMs = this.opts.requestTimeoutMs ?? 60_000;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new Error(`agent ${this.id} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.requests.set(id, { chunks: [], resolve, reject, timer });
      this.send({ t: 'request', id, ...req } as ServerMessage);
    });
  }
}

/** The agent could not answer a request (its ComfyUI has no such file, or is down). */
export class AgentRequestError extends Error {
  override name = 'AgentRequestError';
}

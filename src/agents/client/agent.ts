/**
 * `comfy-queue agent`: runs next to one ComfyUI and connects out to the server
 * (no inbound port: it works behind NAT). The push driver (src/workers/driver.ts)
 * drives the local ComfyUI exactly as the server drives a pushed one; its
 * reports and ComfyUI's frames go to the server over one connection (a
 * websocket, or HTTP long-poll where websockets are blocked: transport.ts), through
 * the outbox (kept on disk, replayed after a reconnect, each taken at most
 * once). The server hands it work, which it runs under the claim's attempt
 * number; it renews the leases of what it holds, and answers the server's
 * requests for its ComfyUI's node definitions and output files.
 */
import { mkdirSync } from 'node:fs';
import { ComfyHttpError } from '../../comfy/client.js';
import type { Job } from '../../domain/job.js';
import type { WorkerState } from '../../engine/events.js';
import type { WorkerFrame, WorkerReports } from '../../engine/worker-port.js';
import { capabilitiesOf } from '../../farm/capabilities.js';
import { errMessage, type Logger } from '../../logging/logger.js';
import type { FinishPatch } from '../../store/job-store.js';
import { WorkerDriver } from '../../workers/driver.js';
import {
  AGENT_ENROLL_PATH,
  type AgentMessage,
  CHUNK_BYTES,
  type Envelope,
  encodeBinary,
  type JobClaim,
  type SequencedMessage,
  type ServerMessage,
} from '../protocol.js';
import { readCredential, type StoredCredential, writeCredential } from './credential-file.js';
import { HeldJobs } from './held-jobs.js';
import { Outbox } from './outbox.js';
import { connectPoll } from './poll-transport.js';
import { type ServerConnection, TRANSPORT_NAMES, type TransportChoice } from './transport.js';
import { connectWs } from './ws-transport.js';

export interface AgentConfig {
  /** the comfy-queue server, e.g. https://farm.example:8189 */
  server: string;
  /** a one-time enrollment token (or the server's --token); needed only without a stored credential */
  enroll: string | null;
  /** the local ComfyUI */
  comfy: string;
  name: string;
  tags: string[];
  capacity: number;
  /** its credential and its outbox */
  dataDir: string;
  version: string;
  log: Logger;
  /** how often jobs that went quiet are checked against ComfyUI (default 1 s) */
  pollMs?: number;
  /** the websocket, HTTP long-poll, or the websocket with long-poll as the fallback (default) */
  transport?: TransportChoice;
}

/** The server refused the agent (a bad enrollment token, a revoked credential): retrying cannot help. */
export class AgentRefusedError extends Error {
  override name = 'AgentRefusedError';
}

export interface RunningAgent {
  name: string;
  /** resolves when the agent stops by itself: the server refused it */
  refused: Promise<AgentRefusedError>;
  close(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig): Promise<RunningAgent> {
  mkdirSync(cfg.dataDir, { recursive: true });
  const server = cfg.server.replace(/\/+$/, '');
  let cred = readCredential(cfg.dataDir);
  if (cred && cred.server !== server)
    cfg.log.warn(`the credential in ${cfg.dataDir} was made by ${cred.server}; using it with ${server}`);
  if (!cred) {
    if (!cfg.enroll)
      throw new AgentRefusedError(
        `no credential in ${cfg.dataDir}: enroll the agent once with --enroll TOKEN (an enrollment token, or the server's --token)`,
      );
    cred = await enroll(server, cfg);
    writeCredential(cfg.dataDir, cred);
    cfg.log.info(`enrolled as agent ${cred.agent}; credential stored in ${cfg.dataDir}`);
  }
  const link = new ServerLink(server, cred, cfg);
  link.start();
  return {
    name: cred.agent,
    refused: link.refused,
    close: () => link.close(),
  };
}

async function enroll(server: string, cfg: AgentConfig): Promise<StoredCredential> {
  let res: Response;
  try {
    res = await fetch(`${server}${AGENT_ENROLL_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: cfg.enroll, name: cfg.name, tags: cfg.tags, capacity: cfg.capacity }),
    });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new AgentRefusedError(
      `cannot reach ${server} to enroll: ${errMessage(cause ?? err)} (is the server running, and --server right?)`,
    );
  }
  const body = (await res.json().catch(() => null)) as {
    agent?: string;
    credential?: string;
    error?: { code: string; message: string };
  } | null;
  if (!res.ok || !body?.credential || !body.agent)
    throw new AgentRefusedError(
      `enrollment refused by ${server}: ${body?.error ? `${body.error.message} (${body.error.code})` : `HTTP ${res.status}`}`,
    );
  return { server, agent: body.agent, credential: body.credential };
}

class ServerLink implements WorkerReports {
  private readonly driver: WorkerDriver;
  private readonly outbox: Outbox;
  private readonly held: HeldJobs;
  private readonly log: Logger;
  private conn: ServerConnection | null = null;
  /** welcomed on the current connection: messages go out at once */
  private ready = false;
  private closed = false;
  private backoffMs = 250;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  /** `auto` found the websocket blocked and long-poll working: it stays on long-poll */
  private pollOnly = false;
  private fallbackSaid = false;
  /** new claims of jobs whose earlier claim's copy is still held here (see take) */
  private readonly deferred = new Map<string, { job: Job; adopt: boolean; cancel: boolean }>();
  private refuse!: (err: AgentRefusedError) => void;
  readonly refused = new Promise<AgentRefusedError>((resolve) => {
    this.refuse = resolve;
  });

  constructor(
    private readonly server: string,
    private readonly cred: StoredCredential,
    private readonly cfg: AgentConfig,
  ) {
    this.log = cfg.log;
    this.outbox = new Outbox(cfg.dataDir);
    this.held = new HeldJobs(cfg.dataDir);
    this.driver = new WorkerDriver(cred.agent, cfg.comfy, `comfy-queue-agent-${cred.agent}`, this, {
      capacity: cfg.capacity,
      offlineTimeoutMs: 60_000,
      pollMs: cfg.pollMs ?? 1_000,
      now: Date.now,
      log: cfg.log.child({ component: 'comfyui' }),
    });
  }

  start(): void {
    // Jobs held before a restart: reconciled with ComfyUI (queue, then history) once it answers.
    for (const job of this.held.list()) this.driver.adopt(job);
    if (this.outbox.size > 0)
      this.log.info(
        { messages: this.outbox.size },
        `${this.outbox.size} message(s) wait to be sent to the server`,
      );
    this.driver.start();
    this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.conn?.close();
    this.outbox.persistAll();
    await this.driver.stop();
  }

  private claims(): JobClaim[] {
    return [...this.driver.active.values()].map((a) => ({ id: a.job.id, attempt: a.job.attempts }));
  }

  // ---- the connection -------------------------------------------------

  private connect(kind: 'ws' | 'http' = this.firstTransport()): void {
    if (this.closed) return;
    let conn: ServerConnection | null = null;
    const events = {
      opened: () => {
        if (conn && this.conn === conn) this.hello(conn);
      },
      message: (m: ServerMessage) => {
        if (conn && this.conn === conn) this.onMessage(conn, m);
      },
      ended: (why: string, opened: boolean) => {
        if (!conn || this.conn !== conn) return;
        this.conn = null;
        if (this.ready) this.log.warn(`disconnected from ${this.server}: ${why}`);
        this.ready = false;
        if (this.renewTimer) clearInterval(this.renewTimer);
        this.renewTimer = null;
        this.outbox.persistAll();
        if (kind === 'ws' && !opened && this.cfg.transport !== 'ws' && !this.closed) {
          // The upgrade failed or was refused (a proxy that blocks websockets): HTTP may get through.
          const line = `the websocket to ${this.server} failed (${why}): trying HTTP long-poll`;
          if (this.fallbackSaid) this.log.debug(line);
          else this.log.warn(line);
          this.fallbackSaid = true;
          this.connect('http');
          return;
        }
        this.log.debug(`connection to ${this.server} (${TRANSPORT_NAMES[kind]}) ended: ${why}`);
        this.scheduleReconnect();
      },
      refused: (detail: string) => {
        if (!conn || this.conn !== conn) return;
        this.conn = null;
        this.closed = true;
        this.log.error(`the server refused the agent: ${detail}`);
        this.refuse(new AgentRefusedError(`the server refused the agent: ${detail}`));
      },
    };
    conn =
      kind === 'ws'
        ? connectWs(this.server, this.cred.credential, events, this.log)
        : connectPoll(this.server, this.cred.credential, events);
    this.conn = conn;
  }

  /** The websocket first, unless told otherwise or `auto` found it blocked. */
  private firstTransport(): 'ws' | 'http' {
    return this.cfg.transport === 'http' || this.pollOnly ? 'http' : 'ws';
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
  }

  private hello(conn: ServerConnection): void {
    conn.send({
      t: 'hello',
      version: this.cfg.version,
      capacity: this.cfg.capacity,
      tags: this.cfg.tags,
      state: this.driver.state,
      systemStats: this.driver.systemStats,
      holding: this.claims(),
      sessions: this.outbox.sessions(),
    });
  }

  private send(m: AgentMessage): void {
    if (this.ready && this.conn) this.conn.send(m);
  }

  private welcome(conn: ServerConnection, m: Extract<ServerMessage, { t: 'welcome' }>): void {
    for (const [s, q] of Object.entries(m.acked)) this.outbox.ack(s, q);
    const replay = this.outbox.unacked();
    if (replay.length > 0)
      this.log.info({ messages: replay.length }, `replaying ${replay.length} message(s)`);
    for (const e of replay) conn.send({ t: 'seq', e });
    // Its ComfyUI may have changed state since the hello.
    conn.send({ t: 'state', state: this.driver.state, systemStats: this.driver.systemStats });
    this.ready = true;
    this.backoffMs = 250;
    if (conn.kind === 'http' && this.cfg.transport !== 'http') this.pollOnly = true;
    this.log.info(`agent ${m.agent} connected to ${this.server} over ${TRANSPORT_NAMES[conn.kind]}`);
    conn.keepAlive(m.pingMs);
    if (this.renewTimer) clearInterval(this.renewTimer);
    // At once too: after a restart, the leases of the jobs it took over may be close to their end.
    const now = this.claims();
    if (now.length > 0) conn.send({ t: 'renew', jobs: now });
    this.renewTimer = setInterval(() => {
      const jobs = this.claims();
      if (jobs.length > 0) conn.send({ t: 'renew', jobs });
    }, m.pingMs);
  }

  private onMessage(conn: ServerConnection, m: ServerMessage): void {
    if (m.t === 'run' || m.t === 'adopt')
      this.log.debug({ job: m.job.id, attempt: m.job.attempts }, `server: ${m.t} job ${m.job.id}`);
    switch (m.t) {
      case 'welcome':
        this.welcome(conn, m);
        return;
      case 'ack':
        this.outbox.ack(m.s, m.q);
        return;
      case 'refused':
        this.log.warn(
          { job: m.job, attempt: m.attempt },
          `report refused by the server: job ${m.job} (attempt ${m.attempt}): ${m.reason}`,
        );
        return;
      case 'run':
        this.take(m.job, false, false);
        return;
      case 'adopt':
        if (this.outbox.hasReport(m.job.id, m.job.attempts)) return;
        this.take(m.job, true, m.cancel);
        return;
      case 'cancel':
        this.background('cancel', this.driver.cancel(m.id));
        return;
      case 'takeBack':
        this.background('take-back', this.driver.takeBack(m.id));
        return;
      case 'drop':
        for (const c of m.jobs) {
          const a = this.driver.active.get(c.id);
          if (a?.job.attempts !== c.attempt) continue;
          this.log.warn(
            { job: c.id },
            `job ${c.id} is no longer ours (${m.reason}): interrupting it on ComfyUI`,
          );
          this.background('interrupting a dropped job', this.driver.cancel(c.id));
        }
        return;
      case 'request':
        this.background('answering the server', this.answer(conn, m));
        return;
    }
  }

  /**
   * A job handed to the agent (`run`) or that the store says it holds (`adopt`). A new claim of a
   * job whose copy of an earlier claim is still being interrupted here waits for that copy's end
   * (ComfyUI knows both by the same prompt_id).
   */
  private take(job: Job, adopt: boolean, cancel: boolean): void {
    const a = this.driver.active.get(job.id);
    if (a) {
      if (a.job.attempts !== job.attempts) {
        this.log.debug(
          { job: job.id, attempt: job.attempts, held: a.job.attempts },
          'a new claim of a job whose earlier copy is still held: it waits for that copy to end',
        );
        this.deferred.set(job.id, { job, adopt, cancel });
      }
      return;
    }
    this.held.put(job);
    if (adopt) this.driver.adopt(job);
    else this.driver.run(job);
    if (cancel) this.background('cancel', this.driver.cancel(job.id));
  }

  /** ComfyUI's /object_info for the server; the driver keeps its output node types (run-record.ts). */
  private async objectInfo(): Promise<Record<string, unknown>> {
    const info = await this.driver.client.objectInfo();
    this.driver.knowOutputNodes(capabilitiesOf(info).outputNodes);
    return info;
  }

  private async answer(conn: ServerConnection, m: Extract<ServerMessage, { t: 'request' }>): Promise<void> {
    let body: Buffer;
    try {
      body =
        m.op === 'view'
          ? await this.driver.client.view(m.file)
          : Buffer.from(
              JSON.stringify(
                m.op === 'objectInfo' ? await this.objectInfo() : await this.driver.client.systemStats(),
              ),
            );
    } catch (err) {
      const status = err instanceof ComfyHttpError ? err.status : undefined;
      conn.sendBinary(
        encodeBinary({ t: 'chunk', id: m.id, last: true, error: errMessage(err), status }, Buffer.alloc(0)),
      );
      return;
    }
    for (let at = 0; at < body.length || at === 0; at += CHUNK_BYTES) {
      if (!conn.open) return;
      const last = at + CHUNK_BYTES >= body.length;
      conn.sendBinary(encodeBinary({ t: 'chunk', id: m.id, last }, body.subarray(at, at + CHUNK_BYTES)));
      if (last) break;
    }
  }

  private background(what: string, work: Promise<unknown>): void {
    work.catch((err) => this.log.error({ err }, `${what} failed: ${errMessage(err)}`));
  }

  // ---- what the driver reports ----------------------------------------

  private report(m: Extract<SequencedMessage, { t: 'finished' | 'lost' | 'withdrawn' }>): Promise<void> {
    // On disk before the driver forgets the job: a crash right after still delivers it.
    const e = this.outbox.add(m, true);
    this.held.remove(m.job, m.attempt);
    this.sendSequenced(e);
    const next = this.deferred.get(m.job);
    if (next && next.job.attempts !== m.attempt) {
      this.deferred.delete(m.job);
      // After the driver has let go of the old copy (it does once this report is accepted).
      setImmediate(() => this.take(next.job, next.adopt, next.cancel));
    }
    return Promise.resolve();
  }

  private sendSequenced(e: Envelope): void {
    this.send({ t: 'seq', e });
  }

  finished(_worker: string, jobId: string, patch: FinishPatch, attempt?: number): Promise<void> {
    return this.report({ t: 'finished', job: jobId, attempt: attempt ?? 0, patch });
  }

  lost(_worker: string, jobId: string, reason: string, attempt?: number): Promise<void> {
    return this.report({ t: 'lost', job: jobId, attempt: attempt ?? 0, reason });
  }

  withdrawn(_worker: string, jobId: string, reason?: string, attempt?: number): Promise<void> {
    return this.report({ t: 'withdrawn', job: jobId, attempt: attempt ?? 0, reason });
  }

  stateChanged(_worker: string, state: WorkerState, detail?: string): void {
    this.send({ t: 'state', state, detail, systemStats: this.driver.systemStats });
  }

  frame(_worker: string, jobId: string | null, frame: WorkerFrame): void {
    const attempt = jobId ? (this.driver.active.get(jobId)?.job.attempts ?? null) : null;
    if (frame.kind === 'binary') {
      // Previews only live: one missed while disconnected is of no use later.
      if (this.ready && this.conn?.open)
        this.conn.sendBinary(
          encodeBinary({ t: 'preview', job: attempt === null ? null : jobId, attempt }, frame.raw),
        );
      return;
    }
    if (jobId && attempt !== null) {
      const e = this.outbox.add({ t: 'frame', job: jobId, attempt, raw: frame.raw }, !this.ready);
      this.sendSequenced(e);
    } else this.send({ t: 'broadcast', raw: frame.raw });
  }

  idle(_worker: string): void {
    // The server schedules: it hands work as slots free up.
  }
}

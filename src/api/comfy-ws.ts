/**
 * ComfyUI's /ws for clients of comfy-queue (comfyui-protocol.md §3): each
 * socket gets `status` messages with comfy-queue's queue_remaining, and the
 * execution messages and previews of the jobs it submitted, whichever worker
 * runs them, addressed as ComfyUI addresses them (§3.2) and in its order
 * (§3.5): the worker's `executing {node: null}` is held back until the job is
 * finished in the store, then sent after the final `status`. Workers send
 * previews as type 4 (the driver negotiates it); a client that did not
 * negotiate gets type 1, after the `progress` message as ComfyUI sends it.
 * Every send goes through backlog.ts: a client that stops reading loses its
 * previews first, then its connection, instead of growing the server's memory.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { encodePreviewImage } from '../comfy/binary-frames.js';
import type { Job } from '../domain/job.js';
import type { Engine } from '../engine/engine.js';
import type { QueueEvent } from '../engine/events.js';
import type { WorkerFrame } from '../engine/worker-port.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import {
  type BacklogLimits,
  type BacklogState,
  type BacklogStats,
  DEFAULT_BACKLOG,
  sendBounded,
} from './backlog.js';
import type { FileLocator } from './comfy-files.js';
import { executionErrorPayload } from './comfy-format.js';

/** The server flags ComfyUI v0.25 answers the handshake with. */
export const SERVER_FEATURE_FLAGS = {
  supports_preview_metadata: true,
  max_upload_size: 104857600,
  extension: { manager: { supports_v4: true } },
  node_replacements: true,
  assets: false,
};

/** Messages sent to every socket when the job has no client_id (§3.2). */
const BROADCAST_WITHOUT_CLIENT = new Set(['execution_interrupted', 'progress', 'progress_state']);
const TERMINAL = new Set(['execution_success', 'execution_error', 'execution_interrupted']);

interface Client extends BacklogState {
  ws: WebSocket;
  flags: Record<string, unknown>;
  /** the page origin the socket was opened from (null: not a browser) */
  origin: string | null;
}

/** Type-1 previews held for the next `progress` message, at most (the newest are kept). */
const MAX_LEGACY_PREVIEWS = 8;

export interface ComfyWsOptions {
  backlog?: BacklogLimits;
  log?: Logger;
  now?: () => number;
}

interface Running {
  clientId: string | null;
  /** the display node ComfyUI last said it executes, for a reconnecting client */
  lastNode: string | null;
  terminalSent: boolean;
  /** type-1 previews waiting for the next `progress` message */
  legacy: { client: Client; frame: Buffer }[];
}

export class ComfyWsRelay {
  private readonly clients = new Map<string, Client>();
  private readonly running = new Map<string, Running>();
  private chain: Promise<void> = Promise.resolve();
  private readonly offs: (() => void)[] = [];
  private readonly limits: BacklogLimits;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly counters = { peakBuffered: 0, previewsDropped: 0, disconnected: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly files: FileLocator | null = null,
    opts: ComfyWsOptions = {},
  ) {
    this.limits = opts.backlog ?? DEFAULT_BACKLOG;
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.offs.push(engine.bus.subscribe((e) => this.onEvent(e)));
    this.offs.push(engine.onFrame((w, jobId, frame) => this.onFrame(w, jobId, frame)));
    this.serial(async () => {
      for (const job of await engine.store.listInProgress()) this.track(job);
    });
  }

  close(): void {
    for (const off of this.offs) off();
    for (const c of this.clients.values()) c.ws.terminate();
    this.clients.clear();
  }

  stats(): BacklogStats {
    return { clients: this.clients.size, ...this.counters };
  }

  /** Everything goes through one queue, so that what a socket receives keeps the order of what happened. */
  private serial(task: () => Promise<void> | void): void {
    this.chain = this.chain.then(task).catch((err) => {
      // Safe: one message (a status, a relayed frame) is lost to the clients; the queue goes on.
      this.log.error({ err }, `/ws relay: ${errMessage(err)}`);
    });
  }

  /** Sends to one client within its backlog limits (backlog.ts). */
  private deliver(c: Client, data: string | Buffer, isPreview = false): void {
    const buffered = c.ws.bufferedAmount;
    if (buffered > this.counters.peakBuffered) this.counters.peakBuffered = buffered;
    const outcome = sendBounded(c.ws, c, data, isPreview, this.limits, this.now());
    if (outcome === 'dropped') this.counters.previewsDropped++;
    else if (outcome === 'disconnected') {
      this.counters.disconnected++;
      this.log.warn({ buffered }, '/ws client disconnected: it is not reading what it is sent');
    }
  }

  /**
   * A new socket: `clientId` becomes its sid. A newer socket with the sid of a connected one takes
   * over its events, as in ComfyUI (a page reconnecting), but only when opened from the same origin:
   * from another one it gets a sid of its own, which the first `status` message tells it.
   */
  attach(ws: WebSocket, clientId: string | null, origin: string | null = null): void {
    let sid = clientId ? clientId : newSid();
    const client: Client = { ws, flags: {}, origin, behindSince: null };
    let first = true;
    ws.on('message', (data, isBinary) => {
      if (isBinary || !first) return;
      let msg: { type?: unknown; data?: unknown };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        return; // not an error: ComfyUI, too, ignores frames until a first JSON message
      }
      first = false;
      if (msg?.type !== 'feature_flags') return;
      client.flags = msg.data && typeof msg.data === 'object' ? (msg.data as Record<string, unknown>) : {};
      this.deliver(client, JSON.stringify({ type: 'feature_flags', data: SERVER_FEATURE_FLAGS }));
    });
    ws.on('close', () => {
      if (this.clients.get(sid) === client) this.clients.delete(sid);
    });
    ws.on('error', (err) => {
      this.log.debug({ err }, `/ws client error: ${err.message}`);
      ws.terminate();
    });
    this.serial(async () => {
      if (ws.readyState !== 1) return; // closed before its turn
      const held = this.clients.get(sid);
      if (held && held.origin !== origin) sid = newSid();
      this.clients.set(sid, client);
      this.deliver(
        client,
        JSON.stringify({ type: 'status', data: { status: await this.statusData(), sid } }),
      );
      for (const r of this.running.values()) {
        if (r.clientId === sid && r.lastNode !== null)
          this.deliver(client, JSON.stringify({ type: 'executing', data: { node: r.lastNode } }));
      }
    });
  }

  private async statusData(): Promise<{ exec_info: { queue_remaining: number } }> {
    const c = await this.engine.store.counts();
    return { exec_info: { queue_remaining: c.pending + c.in_progress } };
  }

  private track(job: Job): Running {
    const r: Running = { clientId: job.clientId, lastNode: null, terminalSent: false, legacy: [] };
    this.running.set(job.id, r);
    return r;
  }

  private onEvent(e: QueueEvent): void {
    switch (e.type) {
      case 'job.started':
        this.serial(() => {
          this.track(e.job);
          return this.broadcastStatus();
        });
        return;
      case 'job.queued':
      case 'job.deleted':
      case 'job.released':
        this.serial(() => this.broadcastStatus());
        return;
      case 'job.finished':
        this.serial(() => this.finished(e.job));
        return;
      default:
        return;
    }
  }

  private async broadcastStatus(): Promise<void> {
    if (this.clients.size === 0) return;
    const text = JSON.stringify({ type: 'status', data: { status: await this.statusData() } });
    for (const c of this.clients.values()) this.deliver(c, text);
  }

  /** status, then (for a job that ran, submitted with a client_id) the terminal event if the worker sent none, and `executing {node: null}`. */
  private async finished(job: Job): Promise<void> {
    const r = this.running.get(job.id);
    this.running.delete(job.id);
    if (r) this.flushLegacy(r);
    const c = r?.clientId ? this.clients.get(r.clientId) : undefined;
    if (r && c && !r.terminalSent) this.deliver(c, JSON.stringify(terminalMessage(job)));
    await this.broadcastStatus();
    if (r && c)
      this.deliver(c, JSON.stringify({ type: 'executing', data: { node: null, prompt_id: job.id } }));
  }

  private onFrame(worker: string, jobId: string | null, frame: WorkerFrame): void {
    if (jobId === null) return; // another client's traffic on the worker, or its own status
    this.serial(async () => {
      let r = this.running.get(jobId);
      if (!r) {
        const job = await this.engine.store.get(jobId);
        if (job?.status !== 'in_progress') return;
        r = this.track(job);
      }
      if (frame.kind === 'text')
        this.relayText(worker, jobId, r, frame.message.type, frame.message, frame.raw);
      else this.relayBinary(r, frame);
    });
  }

  private recipients(r: Running, broadcastWithoutClient: boolean): Client[] {
    if (r.clientId !== null) {
      const c = this.clients.get(r.clientId);
      return c ? [c] : [];
    }
    return broadcastWithoutClient ? [...this.clients.values()] : [];
  }

  private relayText(
    worker: string,
    _jobId: string,
    r: Running,
    type: string,
    message: unknown,
    raw: string,
  ): void {
    if (type === 'status' || type === 'feature_flags' || type === 'unknown') return;
    const data = (message as { data?: Record<string, unknown> }).data ?? {};
    if (type === 'executing') {
      // The end of the prompt is announced after the store has it (see finished()).
      if (data.node === null || data.node === undefined) return;
      r.lastNode = String(data.display_node ?? data.node);
    }
    if (type === 'executed' && this.files) this.files.remember(worker, data.output);
    if (TERMINAL.has(type)) r.terminalSent = true;
    if (type !== 'progress') this.flushLegacy(r);
    for (const c of this.recipients(r, BROADCAST_WITHOUT_CLIENT.has(type))) this.deliver(c, raw);
    if (type === 'progress') this.flushLegacy(r);
  }

  private relayBinary(r: Running, frame: Extract<WorkerFrame, { kind: 'binary' }>): void {
    const f = frame.frame;
    // Binary frames are previews (and type-3 progress text): the first thing a lagging client loses.
    if (f && f.type === 3) {
      for (const c of this.clients.values()) this.deliver(c, frame.raw, true);
      return;
    }
    for (const c of this.recipients(r, true)) {
      if (f && f.type === 4 && 'metadata' in f && c.flags.supports_preview_metadata !== true) {
        r.legacy.push({ client: c, frame: encodePreviewImage(f.metadata.image_type, f.image) });
        if (r.legacy.length > MAX_LEGACY_PREVIEWS) r.legacy.shift();
      } else this.deliver(c, frame.raw, true);
    }
  }

  private flushLegacy(r: Running): void {
    for (const { client, frame } of r.legacy.splice(0)) this.deliver(client, frame, true);
  }
}

function newSid(): string {
  return randomUUID().replaceAll('-', '');
}

function terminalMessage(job: Job): { type: string; data: Record<string, unknown> } {
  if (job.status === 'completed') {
    return { type: 'execution_success', data: { prompt_id: job.id, timestamp: job.endedAt } };
  }
  if (job.status === 'cancelled') {
    return {
      type: 'execution_interrupted',
      data: {
        prompt_id: job.id,
        node_id: job.error?.node_id ?? null,
        node_type: job.error?.node_type ?? null,
        executed: [],
        timestamp: job.endedAt,
      },
    };
  }
  return { type: 'execution_error', data: executionErrorPayload(job) };
}

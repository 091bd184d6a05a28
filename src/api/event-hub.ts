/**
 * The event websocket's fan-out (docs/events.md): bus events as they happen,
 * each running job's progress at most every PUSH_INTERVAL_MS and only when
 * its revision changed, live previews as binary frames, and telemetry every
 * TELEMETRY_MS while anyone listens, and each changing batch's figures a few
 * times a second at most (batch-push.ts). A client that connects gets a snapshot
 * first; what happens while the snapshot is read is held back and sent after
 * it. With no client connected the hub does no work beyond a size check.
 */

import { QueueError } from '../domain/errors.js';
import {
  decidePush,
  NEVER_PUSHED,
  PUSH_INTERVAL_MS,
  type PushState,
  pushed,
} from '../domain/push-throttle.js';
import type { BatchService } from '../engine/batches.js';
import type { Engine } from '../engine/engine.js';
import type { QueueEvent } from '../engine/events.js';
import type { ProgressBook } from '../engine/progress-book.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import type { TelemetrySource } from '../telemetry/telemetry.js';
import { type BacklogLimits, type BacklogState, DEFAULT_BACKLOG, sendBounded } from './backlog.js';
import { batchProgressMessage } from './batch-json.js';
import { BatchPush } from './batch-push.js';
import { corkForTurn } from './cork.js';
import { type EventMessage, messageOf } from './event-messages.js';
import { jobJson } from './job-json.js';
import { previewFromWorker } from './preview-frame.js';

export const TELEMETRY_MS = 1_500;
/** Messages held back while a client's snapshot is read, at most; beyond, the client is dropped (it reconnects). */
const MAX_HELD = 10_000;
/** Completed batch items remembered until their outputs are collected (their tracker status changes then). */
const MAX_UNCOLLECTED = 10_000;

/** The part of a `ws` WebSocket the hub uses. */
export interface HubSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'close', listener: () => void): unknown;
}

interface Client extends BacklogState {
  socket: HubSocket;
  /** messages held back until the snapshot is sent; null once it is */
  held: (string | Buffer)[] | null;
}

interface Throttle {
  worker: string;
  state: PushState;
  timer: NodeJS.Timeout | null;
}

export interface EventHubOptions {
  engine: Engine;
  progress: ProgressBook;
  telemetry?: TelemetrySource;
  /** batches: their figures are pushed as `batch.progress` while they change */
  batchService?: BatchService;
  /** ms between two `batch.progress` of one batch, at least (batch-push.ts) */
  batchPushMs?: number;
  now: () => number;
  pushIntervalMs?: number;
  telemetryMs?: number;
  /** how far a client may fall behind (backlog.ts) */
  backlog?: BacklogLimits;
  log?: Logger;
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private readonly throttles = new Map<string, Throttle>();
  /** the latest preview frame of each running job, for clients that connect late */
  private readonly previews = new Map<string, Buffer>();
  private telemetryTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly interval: number;
  private readonly batchPush: BatchPush | null;
  /** completed batch items whose outputs are not collected yet: job id → batch id and index */
  private readonly uncollected = new Map<string, { id: number; index: number }>();

  constructor(private readonly opts: EventHubOptions) {
    this.interval = opts.pushIntervalMs ?? PUSH_INTERVAL_MS;
    const batches = opts.batchService;
    this.batchPush = batches
      ? new BatchPush({
          send: (id, changed) => this.sendBatch(batches, id, changed),
          now: opts.now,
          intervalMs: opts.batchPushMs,
          log: opts.log,
        })
      : null;
    this.unsubscribe.push(
      opts.engine.bus.subscribe((e) => {
        if (e.type === 'job.finished' || e.type === 'job.released') this.forget(e.job.id);
        else if (e.type === 'job.deleted') for (const id of e.ids) this.forget(id);
        if (this.clients.size === 0) return;
        this.markBatch(e);
        const msg = messageOf(e, opts.now());
        if (msg) this.broadcast(JSON.stringify(msg));
      }),
      // Registered after the ProgressBook's own listener, so the state read here already holds the frame.
      opts.engine.onFrame((worker, jobId, frame) => {
        if (!jobId) return;
        if (frame.kind === 'text') {
          if (this.clients.size > 0) this.progressChanged(jobId, worker);
          return;
        }
        const current = this.opts.progress.state(jobId)?.current?.displayId ?? null;
        const preview = previewFromWorker(frame.frame, jobId, worker, current);
        if (!preview) return;
        this.previews.set(jobId, preview);
        if (this.clients.size > 0) this.broadcast(preview, true);
      }),
    );
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes a connected websocket: snapshot first, then everything live. */
  attach(socket: HubSocket): void {
    const client: Client = { socket, held: [], behindSince: null };
    this.clients.add(client);
    socket.on('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stopTelemetry();
    });
    if (this.clients.size === 1) this.startTelemetry();
    this.sendSnapshot(client).catch((err) => {
      // Safe: the client is dropped and reconnects for a new snapshot.
      (this.opts.log ?? silentLogger).error({ err }, `event snapshot failed: ${errMessage(err)}`);
      socket.terminate();
    });
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    for (const t of this.throttles.values()) if (t.timer) clearTimeout(t.timer);
    this.throttles.clear();
    this.batchPush?.close();
    this.stopTelemetry();
    for (const c of this.clients) c.socket.close(1001, 'server shutting down');
    this.clients.clear();
  }

  private async sendSnapshot(client: Client): Promise<void> {
    const { engine, progress } = this.opts;
    let running: Awaited<ReturnType<Engine['store']['listInProgress']>> = [];
    try {
      running = await engine.store.listInProgress();
    } catch (err) {
      // Safe: the snapshot shows no running job; the live events that follow correct it.
      (this.opts.log ?? silentLogger).warn(
        { err },
        `event snapshot without running jobs: ${errMessage(err)}`,
      );
    }
    const previews = running.map((j) => this.previews.get(j.id)).filter((b) => b !== undefined);
    const msg: EventMessage = {
      type: 'snapshot',
      at: this.opts.now(),
      paused: engine.isPaused,
      running: running.map((j) => ({ job: jobJson(j), progress: progress.get(j.id) })),
      workers: [...engine.workers.values()].map((w) => ({
        id: w.id,
        url: w.url,
        state: w.state,
        jobs: w.heldJobIds(),
      })),
      previews: running.filter((j) => this.previews.has(j.id)).map((j) => j.id),
    };
    const held = client.held ?? [];
    client.held = null;
    this.sendTo(client, JSON.stringify(msg));
    for (const p of previews) this.sendTo(client, p, true);
    for (const m of held) this.sendTo(client, m, typeof m !== 'string');
    // Progress pushed before this client joined is in the snapshot; what changed since is pushed as usual.
  }

  private progressChanged(jobId: string, worker: string): void {
    let t = this.throttles.get(jobId);
    if (!t) {
      t = { worker, state: NEVER_PUSHED, timer: null };
      this.throttles.set(jobId, t);
    }
    if (t.timer === null) this.tryPush(jobId, t);
  }

  private tryPush(jobId: string, t: Throttle): void {
    t.timer = null;
    const state = this.opts.progress.state(jobId);
    if (!state || this.clients.size === 0) return;
    const now = this.opts.now();
    const d = decidePush(t.state, state.revision, now, this.interval);
    if (d.kind === 'skip') return;
    if (d.kind === 'wait') {
      t.timer = setTimeout(() => this.tryPush(jobId, t), d.delayMs);
      return;
    }
    t.state = pushed(state.revision, now);
    const snapshot = this.opts.progress.get(jobId);
    this.broadcast(
      JSON.stringify({ type: 'progress', at: now, job_id: jobId, worker: t.worker, progress: snapshot }),
    );
  }

  /** Marks the batch an event changed (an item's status, or the batch as a whole). */
  private markBatch(e: QueueEvent): void {
    const push = this.batchPush;
    if (!push) return;
    if (e.type === 'batch.changed') {
      push.changed(e.id, null);
      return;
    }
    if (e.type === 'job.collected') {
      const item = this.uncollected.get(e.jobId);
      this.uncollected.delete(e.jobId);
      if (item) push.changed(item.id, item.index);
      return;
    }
    if (!('job' in e)) return;
    const ref = e.job.batch;
    if (!ref?.current) return;
    push.changed(ref.id, ref.index);
    if (e.type === 'job.finished' && e.job.status === 'completed' && this.opts.batchService?.collecting) {
      if (this.uncollected.size >= MAX_UNCOLLECTED) {
        const oldest = this.uncollected.keys().next().value;
        if (oldest !== undefined) this.uncollected.delete(oldest);
      }
      this.uncollected.set(e.job.id, { id: ref.id, index: ref.index });
    }
  }

  private async sendBatch(batches: BatchService, id: number, changed: number[] | null): Promise<void> {
    if (this.clients.size === 0) return;
    try {
      const p = await batches.progress(id);
      this.broadcast(JSON.stringify(batchProgressMessage(p, changed, this.opts.now())));
    } catch (err) {
      if (!(err instanceof QueueError && err.code === 'BATCH_NOT_FOUND')) throw err;
      this.batchPush?.forget(id);
      this.broadcast(JSON.stringify({ type: 'batch.deleted', at: this.opts.now(), batch_id: id }));
    }
  }

  private forget(jobId: string): void {
    const t = this.throttles.get(jobId);
    if (t?.timer) clearTimeout(t.timer);
    this.throttles.delete(jobId);
    this.previews.delete(jobId);
  }

  private broadcast(data: string | Buffer, isPreview = false): void {
    for (const c of this.clients) {
      if (!c.held) this.sendTo(c, data, isPreview);
      else if (c.held.length < MAX_HELD) c.held.push(data);
      else {
        c.held = null;
        c.socket.terminate();
      }
    }
  }

  private sendTo(c: Client, data: string | Buffer, isPreview = false): void {
    const limits = this.opts.backlog ?? DEFAULT_BACKLOG;
    const buffered = c.socket.bufferedAmount;
    corkForTurn(c.socket);
    if (sendBounded(c.socket, c, data, isPreview, limits, this.opts.now()) === 'disconnected') {
      (this.opts.log ?? silentLogger).warn(
        { buffered },
        'event websocket client disconnected: it is not reading what it is sent',
      );
    }
  }

  private startTelemetry(): void {
    const source = this.opts.telemetry;
    if (!source || this.telemetryTimer) return;
    const tick = async () => {
      try {
        const t = await source.read();
        if (this.clients.size > 0) this.broadcast(JSON.stringify({ type: 'telemetry', ...t }));
      } catch (err) {
        // Safe: a failed reading is skipped; the next one comes in TELEMETRY_MS.
        (this.opts.log ?? silentLogger).debug({ err }, `telemetry reading failed: ${errMessage(err)}`);
      }
    };
    void tick();
    this.telemetryTimer = setInterval(() => void tick(), this.opts.telemetryMs ?? TELEMETRY_MS);
    this.telemetryTimer.unref();
  }

  private stopTelemetry(): void {
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    this.telemetryTimer = null;
  }
}

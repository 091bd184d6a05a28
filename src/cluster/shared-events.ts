/**
 * The event bus of a server that shares its database with others. What this
 * server publishes goes to its own subscribers and, as wire messages
 * (event-wire.ts), to every other server over NOTIFY; what the others publish
 * arrives the same way and reaches the subscribers that show things
 * (dashboards, ComfyUI /ws clients, progress), never those that act on a
 * job's end (thumbnails, output collection): those run on the server whose
 * worker ran the job, and subscribe to `ownEvents`. The ComfyUI frames of
 * this server's jobs travel too (text in the NOTIFY, previews through the
 * relay table, at most `previewsPerSecond` per job), so a dashboard on any
 * server shows the progress and previews of every job.
 */

import { decodeBinaryFrame } from '../comfy/binary-frames.js';
import { parseComfyMessage } from '../comfy/messages.js';
import type { Job } from '../domain/job.js';
import type { Engine } from '../engine/engine.js';
import { type EventBus, type Listener, MemoryEventBus, type QueueEvent } from '../engine/events.js';
import type { WorkerFrame } from '../engine/worker-port.js';
import { errMessage, type Logger } from '../logging/logger.js';
import type { JobStore } from '../store/job-store.js';
import { type ClusterLink, NOTIFY_MAX_BYTES } from './cluster-link.js';
import { pack, packetOverhead, toWire, unpack, type WireMessage } from './event-wire.js';

export interface SharedEventsOptions {
  log: Logger;
  now: () => number;
  /** live preview frames sent to the other servers per running job and second, at most (default 4) */
  previewsPerSecond?: number;
}

/** What other servers ask of this one. */
export interface SharedCommands {
  /** interrupt a running job if a worker of this server holds it */
  cancel(jobId: string): Promise<void>;
  /** the workers' records changed: read them again */
  workersChanged(): Promise<void>;
  /** the connection to the others was lost and is back: show what changed meanwhile */
  resumed(): Promise<void>;
}

type Outgoing = { m: WireMessage } | { bin: Buffer; w: string; j: string };

/** Frames waiting to go out at most; past this the oldest previews are dropped, then anything. */
const OUTBOX_MAX = 20_000;

export class SharedEventBus implements EventBus {
  private readonly all: MemoryEventBus;
  private readonly own: MemoryEventBus;
  /** this server's own events only: for subscribers that act on them */
  readonly ownEvents: EventBus;
  private outbox: Outgoing[] = [];
  private sending = false;
  private inbox: string[] = [];
  private receiving = false;
  private injecting = false;
  private engine: Engine | null = null;
  private commands: SharedCommands | null = null;
  private readonly lastPreview = new Map<string, number>();
  private dropped = 0;
  private idleWaiters: (() => void)[] = [];
  private lastFailureLog = 0;

  constructor(
    private readonly link: ClusterLink,
    private readonly store: JobStore,
    private readonly opts: SharedEventsOptions,
  ) {
    this.all = new MemoryEventBus(opts.log);
    this.own = new MemoryEventBus(opts.log);
    this.ownEvents = { publish: (e) => this.publish(e), subscribe: (l) => this.own.subscribe(l) };
    link.onMessage((payload) => this.received(payload));
    link.onResume(() => {
      this.commands?.resumed().catch((err: unknown) => {
        // Safe: dashboards fall back on their own re-sync; the next events are live again.
        this.opts.log.error({ err }, `catching up after reconnecting failed: ${errMessage(err)}`);
      });
    });
  }

  /** Relays this server's frames and applies the frames and commands of others through `engine`. */
  attach(engine: Engine, commands: SharedCommands): void {
    this.engine = engine;
    this.commands = commands;
    engine.onFrame((worker, jobId, frame) => {
      if (this.injecting || jobId === null) return;
      if (frame.kind === 'text') this.enqueue({ m: { t: 'text', w: worker, j: jobId, raw: frame.raw } });
      else this.preview(worker, jobId, frame.raw);
    });
    engine.bus.subscribe((e) => {
      if (e.type === 'job.finished' || e.type === 'job.released') this.lastPreview.delete(e.job.id);
    });
  }

  publish(event: QueueEvent): void {
    this.own.publish(event);
    this.all.publish(event);
    for (const m of toWire(event)) this.enqueue({ m });
  }

  subscribe(listener: Listener): () => void {
    return this.all.subscribe(listener);
  }

  /** Shows an event again to this server's subscribers only (catching up after a lost connection). */
  replay(event: QueueEvent): void {
    this.all.publish(event);
  }

  /** Sends a command to the other servers. */
  tell(m: Extract<WireMessage, { t: 'cancel' } | { t: 'workers' }>): void {
    this.enqueue({ m });
  }

  /** Resolves once everything queued so far was sent (or given up). */
  flushed(): Promise<void> {
    if (this.outbox.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private preview(worker: string, jobId: string, raw: Buffer): void {
    const now = this.opts.now();
    const every = 1000 / (this.opts.previewsPerSecond ?? 4);
    if (now - (this.lastPreview.get(jobId) ?? -Infinity) < every) return;
    this.lastPreview.set(jobId, now);
    this.enqueue({ bin: raw, w: worker, j: jobId });
  }

  private enqueue(item: Outgoing): void {
    if (this.outbox.length >= OUTBOX_MAX) {
      const at = this.outbox.findIndex((o) => 'bin' in o);
      this.outbox.splice(Math.max(at, 0), 1);
      this.dropped++;
    }
    this.outbox.push(item);
    if (!this.sending) {
      this.sending = true;
      setImmediate(() => void this.send());
    }
  }

  private async send(): Promise<void> {
    try {
      while (this.outbox.length > 0) {
        const batch = this.outbox;
        this.outbox = [];
        const limit = NOTIFY_MAX_BYTES - packetOverhead(this.link.serverId);
        const texts: string[] = [];
        for (const item of batch) {
          if ('bin' in item) {
            const r = await this.link.putRelay(item.bin);
            texts.push(JSON.stringify({ t: 'bin', w: item.w, j: item.j, r } satisfies WireMessage));
            continue;
          }
          const json = JSON.stringify(item.m);
          if (Buffer.byteLength(json) <= limit) texts.push(json);
          else {
            const r = await this.link.putRelay(Buffer.from(json));
            texts.push(JSON.stringify({ t: 'big', r } satisfies WireMessage));
          }
        }
        for (const packet of pack(this.link.serverId, texts, NOTIFY_MAX_BYTES))
          await this.link.notify(packet);
      }
    } catch (err) {
      // The other servers miss these events; they catch up when their connection comes back.
      this.outbox = [];
      const now = this.opts.now();
      if (now - this.lastFailureLog > 5_000) {
        this.lastFailureLog = now;
        this.opts.log.warn({ err: errMessage(err) }, `telling the other servers failed: ${errMessage(err)}`);
      }
    } finally {
      this.sending = false;
      if (this.dropped > 0) {
        this.opts.log.warn(
          { dropped: this.dropped },
          'events for the other servers were dropped: too many waiting',
        );
        this.dropped = 0;
      }
      if (this.outbox.length > 0) {
        this.sending = true;
        setImmediate(() => void this.send());
      } else {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private received(payload: string): void {
    this.inbox.push(payload);
    if (this.receiving) return;
    this.receiving = true;
    void this.drain();
  }

  /** Applies packets strictly in the order they came. */
  private async drain(): Promise<void> {
    try {
      while (this.inbox.length > 0) {
        const packet = unpack(this.inbox.shift()!);
        if (!packet || packet.o === this.link.serverId) continue;
        // The jobs the packet names, read at once rather than one query each.
        const jobs = await this.readJobs(packet.m);
        for (const m of packet.m) {
          try {
            await this.apply(m, jobs);
          } catch (err) {
            this.opts.log.warn(
              { err: errMessage(err), message: m.t },
              `an event of another server could not be applied: ${errMessage(err)}`,
            );
          }
        }
      }
    } finally {
      this.receiving = false;
    }
  }

  private async readJobs(messages: readonly WireMessage[]): Promise<Map<string, Job | null> | null> {
    const ids = [...new Set(messages.filter((m) => m.t === 'job').map((m) => (m as { id: string }).id))];
    if (ids.length < 2 || !this.store.getMany) return null;
    try {
      const found = new Map<string, Job | null>(ids.map((id) => [id, null]));
      for (const job of await this.store.getMany(ids)) found.set(job.id, job);
      return found;
    } catch (err) {
      // Safe: each message reads its job by itself then.
      this.opts.log.debug({ err: errMessage(err) }, 'reading the jobs of a packet failed');
      return null;
    }
  }

  private async apply(m: WireMessage, jobs: Map<string, Job | null> | null = null): Promise<void> {
    switch (m.t) {
      case 'job': {
        // Read with its packet: as elsewhere, the job as it is now, not as it was when the event happened.
        const job = jobs?.has(m.id) ? jobs.get(m.id)! : await this.store.get(m.id);
        if (!job) return; // deleted since
        if (m.e === 'job.released') this.all.publish({ type: m.e, job, reason: m.reason ?? '' });
        else if (m.e === 'job.waiting')
          this.all.publish({ type: m.e, job, reason: m.reason ?? '', since: m.since ?? this.opts.now() });
        else this.all.publish({ type: m.e, job });
        return;
      }
      case 'deleted':
        return this.all.publish({ type: 'job.deleted', ids: m.ids });
      case 'batch':
        this.store.forgetBatch?.(m.id);
        return this.all.publish({ type: 'batch.changed', id: m.id });
      case 'reordered':
        return this.all.publish({ type: 'queue.reordered', ids: m.ids });
      case 'paused':
        return this.all.publish({ type: 'queue.paused' });
      case 'resumed':
        return this.all.publish({ type: 'queue.resumed' });
      case 'worker':
        return this.all.publish({
          type: 'worker.state',
          worker: m.w,
          state: m.s,
          ...(m.d ? { detail: m.d } : {}),
        });
      case 'collected':
        return this.all.publish({
          type: 'job.collected',
          jobId: m.id,
          state: m.s,
          files: m.files,
          error: m.err,
        });
      case 'text': {
        const parsed = parseComfyMessage(m.raw);
        if (parsed.ok) this.inject(m.w, m.j, { kind: 'text', message: parsed.message, raw: m.raw });
        return;
      }
      case 'bin': {
        const raw = await this.link.getRelay(m.r);
        if (raw) this.inject(m.w, m.j, { kind: 'binary', frame: decodeBinaryFrame(raw), raw });
        return;
      }
      case 'big': {
        const body = await this.link.getRelay(m.r);
        if (body) await this.apply(JSON.parse(body.toString('utf8')) as WireMessage);
        return;
      }
      case 'cancel':
        await this.commands?.cancel(m.id);
        return;
      case 'workers':
        await this.commands?.workersChanged();
        return;
    }
  }

  private inject(worker: string, jobId: string, frame: WorkerFrame): void {
    if (!this.engine) return;
    this.injecting = true;
    try {
      this.engine.frame(worker, jobId, frame);
    } finally {
      this.injecting = false;
    }
  }
}

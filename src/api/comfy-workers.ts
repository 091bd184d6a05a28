/**
 * What the ComfyUI-compatible front needs of the workers: their address and
 * state (for the pass-through proxy) and their /object_info (to validate a
 * prompt before it is stored). object_info is cached per worker, refreshed
 * when a worker (re)connects and on demand (an upload adds combo options).
 * Remote agents count for object_info (asked through their connection) but
 * nothing is passed through to them: the server cannot reach their ComfyUI.
 */

import type { ObjectInfoMap } from '../domain/prompt-graph.js';
import type { EventBus, WorkerState } from '../engine/events.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';

/** The part of a WorkerDriver this module uses. */
export interface ComfyWorker {
  readonly id: string;
  readonly url: string;
  readonly state: WorkerState;
  readonly client: { objectInfo(): Promise<Record<string, unknown>> };
}

export class ComfyWorkers {
  private readonly infos = new Map<string, { info: ObjectInfoMap; at: number }>();
  private readonly inflight = new Map<string, Promise<ObjectInfoMap | null>>();
  private readonly listeners = new Set<(worker: string, info: ObjectInfoMap) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    /** the ComfyUIs the server reaches itself (the pass-through picks among them) */
    readonly list: readonly ComfyWorker[],
    bus: EventBus,
    private readonly log: Logger = silentLogger,
    /** the remote agents of the moment: their object_info counts too */
    private readonly agents: () => Iterable<ComfyWorker> = () => [],
  ) {
    this.unsubscribe = bus.subscribe((e) => {
      if (e.type === 'worker.state' && e.state === 'online') void this.refresh(e.worker);
    });
  }

  close(): void {
    this.unsubscribe();
  }

  get(id: string): ComfyWorker | undefined {
    return this.list.find((w) => w.id === id);
  }

  /** Every worker whose object_info counts: those of `list`, then the remote agents. */
  all(): ComfyWorker[] {
    return [...this.list, ...this.agents()];
  }

  /** The first online worker, else the first one. */
  primary(): ComfyWorker | undefined {
    return this.list.find((w) => w.state === 'online') ?? this.list[0];
  }

  /** Called with each object_info fetched (revalidation of pending jobs listens). */
  onObjectInfo(listener: (worker: string, info: ObjectInfoMap) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cached object_info of every worker that answered at least once. */
  known(): { worker: string; info: ObjectInfoMap }[] {
    return this.all().flatMap((w) => {
      const c = this.infos.get(w.id);
      return c ? [{ worker: w.id, info: c.info }] : [];
    });
  }

  /** The cached object_info of online workers first, fetching it where none is cached. */
  async current(): Promise<{ worker: string; info: ObjectInfoMap }[]> {
    const out: { worker: string; info: ObjectInfoMap }[] = [];
    const order = this.all().sort((a, b) => Number(b.state === 'online') - Number(a.state === 'online'));
    for (const w of order) {
      const cached = this.infos.get(w.id)?.info ?? (w.state === 'online' ? await this.refresh(w.id) : null);
      if (cached) out.push({ worker: w.id, info: cached });
    }
    return out;
  }

  /** Fetches a worker's object_info again; null when it does not answer. */
  refresh(id: string): Promise<ObjectInfoMap | null> {
    const running = this.inflight.get(id);
    if (running) return running;
    const w = this.all().find((x) => x.id === id);
    if (!w) return Promise.resolve(null);
    const p = w.client
      .objectInfo()
      .then((raw) => {
        const info = raw as ObjectInfoMap;
        this.infos.set(id, { info, at: Date.now() });
        for (const l of this.listeners) l(id, info);
        return info;
      })
      .catch((err) => {
        // Safe: callers treat null as "this worker does not answer"; the next (re)connect fetches again.
        this.log.warn({ worker: id, err }, `object_info unread: ${errMessage(err)}`);
        return null;
      })
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
    return p;
  }

  /** Drops every cached object_info (after an upload through the proxy). */
  invalidate(): void {
    this.infos.clear();
  }
}

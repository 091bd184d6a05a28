/**
 * The farm's view of its workers: what the store keeps of each (tags,
 * capacity, the operator's mode, the failure record) and what is learned
 * while it runs (its node types and models, the checkpoint it last loaded,
 * since when it is idle). It answers the routing snapshots and applies the
 * failure rules; every change to a worker's record is committed before it
 * counts.
 */
import type { JobStore, WorkerRecord } from '../store/job-store.js';
import type { Capabilities } from './capabilities.js';
import type { FailureClass } from './failure-class.js';
import type { FarmWorkerState, WorkerSnapshot } from './routing.js';
import {
  DEFAULT_HEALTH_RULES,
  HEALTHY,
  type HealthEvent,
  type HealthRules,
  isQuarantined,
  nextHealth,
  type WorkerHealth,
} from './worker-health.js';

/** What the registry needs to know of a live worker (a push driver or a connected agent). */
export interface LiveWorker {
  readonly id: string;
  /** connected and answering */
  readonly online: boolean;
  /** how many more jobs it may take now, by its own count */
  readonly freeSlots: number;
}

interface Learned {
  /** its node types and models were read since it (re)connected (or reading them failed) */
  known: boolean;
  capabilities: Capabilities | null;
  lastCheckpoint: string | null;
  idleSince: number | null;
}

export class WorkerRegistry {
  private readonly records = new Map<string, WorkerRecord>();
  private readonly learned = new Map<string, Learned>();

  constructor(
    private readonly store: JobStore,
    private readonly now: () => number,
    private readonly rules: HealthRules = DEFAULT_HEALTH_RULES,
  ) {}

  /** Loads every registered worker. */
  async load(): Promise<void> {
    for (const r of await this.store.listWorkers()) this.records.set(r.id, r);
  }

  /** Reads every record again, forgetting those removed (another server changed them, src/cluster). */
  async reload(): Promise<void> {
    const fresh = await this.store.listWorkers();
    const ids = new Set(fresh.map((r) => r.id));
    for (const id of [...this.records.keys()]) {
      if (ids.has(id)) continue;
      this.records.delete(id);
      this.learned.delete(id);
    }
    for (const r of fresh) this.records.set(r.id, r);
  }

  list(): WorkerRecord[] {
    return [...this.records.values()];
  }

  get(id: string): WorkerRecord | undefined {
    return this.records.get(id);
  }

  /** Registers a worker, or updates the fields given of one already known; committed first. */
  async upsert(
    id: string,
    fields: Partial<Pick<WorkerRecord, 'kind' | 'source' | 'url' | 'tags' | 'capacity' | 'mode'>>,
  ): Promise<WorkerRecord> {
    const now = this.now();
    const old = this.records.get(id);
    const rec: WorkerRecord = {
      id,
      kind: fields.kind ?? old?.kind ?? 'push',
      source: fields.source ?? old?.source ?? 'api',
      url: fields.url !== undefined ? fields.url : (old?.url ?? null),
      tags: fields.tags ?? old?.tags ?? [],
      capacity: fields.capacity ?? old?.capacity ?? 1,
      mode: fields.mode ?? old?.mode ?? 'active',
      health: old?.health ?? { ...HEALTHY },
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
    };
    await this.store.saveWorker(rec);
    this.records.set(id, rec);
    return rec;
  }

  async remove(id: string): Promise<boolean> {
    const gone = await this.store.deleteWorker(id);
    this.records.delete(id);
    this.learned.delete(id);
    return gone;
  }

  health(id: string): WorkerHealth {
    const h = this.records.get(id)?.health as Partial<WorkerHealth> | undefined;
    return {
      streak: h?.streak ?? 0,
      quarantinedUntil: h?.quarantinedUntil ?? null,
      workflowFailures: h?.workflowFailures ?? {},
      blocked: h?.blocked ?? [],
    };
  }

  /** Applies a failure rule event to a worker's record; committed before it takes effect. */
  async recordHealth(id: string, event: HealthEvent): Promise<WorkerHealth> {
    const rec = this.records.get(id);
    const before = this.health(id);
    const after = nextHealth(before, event, this.rules);
    if (!rec || after === before) return after;
    const next = { ...rec, health: after as unknown as Record<string, unknown>, updatedAt: this.now() };
    await this.store.saveWorker(next);
    this.records.set(id, next);
    return after;
  }

  recordFailure(id: string, failure: FailureClass, workflowKey: string): Promise<WorkerHealth> {
    return this.recordHealth(id, { type: 'failed', failure, workflowKey, at: this.now() });
  }

  recordSuccess(id: string): Promise<WorkerHealth> {
    return this.recordHealth(id, { type: 'succeeded' });
  }

  isQuarantined(id: string): boolean {
    return isQuarantined(this.health(id), this.now());
  }

  /** What the worker can run, read from it (null: reading failed; it is then taken as able to run anything). */
  setCapabilities(id: string, capabilities: Capabilities | null): void {
    const l = this.learn(id);
    l.capabilities = capabilities;
    l.known = true;
  }

  /** The worker went away: what it can run is read again when it is back (node packs may change). */
  forgetCapabilities(id: string): void {
    const l = this.learned.get(id);
    if (l) l.known = false;
  }

  capabilities(id: string): Capabilities | null {
    return this.learned.get(id)?.capabilities ?? null;
  }

  /** The worker started a job that loads this checkpoint. */
  started(id: string, checkpoint: string | null): void {
    const l = this.learn(id);
    if (checkpoint !== null) l.lastCheckpoint = checkpoint;
    l.idleSince = null;
  }

  /** The worker has room again (it finished, or came online). */
  idle(id: string): void {
    const l = this.learn(id);
    l.idleSince ??= this.now();
  }

  private learn(id: string): Learned {
    let l = this.learned.get(id);
    if (!l) {
      l = { known: false, capabilities: null, lastCheckpoint: null, idleSince: this.now() };
      this.learned.set(id, l);
    }
    return l;
  }

  /** The farm state of a worker: the operator's mode and quarantine over its connection. */
  stateOf(live: LiveWorker): FarmWorkerState {
    const rec = this.records.get(live.id);
    // Until its node types and models are known, nothing is routed to it: it could refuse the job.
    if (!live.online || !this.learned.get(live.id)?.known) return 'offline';
    if (this.isQuarantined(live.id)) return 'quarantined';
    if (rec?.mode === 'draining') return 'draining';
    if (rec?.mode === 'paused') return 'paused';
    return 'online';
  }

  /** The state of a worker another server drives (src/cluster): what is learned there is not known here. */
  stateElsewhere(id: string, online: boolean): FarmWorkerState {
    if (!online) return 'offline';
    if (this.isQuarantined(id)) return 'quarantined';
    const mode = this.records.get(id)?.mode;
    return mode === 'draining' ? 'draining' : mode === 'paused' ? 'paused' : 'online';
  }

  /** Routing snapshots; `freeSlots` may be overridden (claims under way). */
  snapshots(live: readonly LiveWorker[], freeSlots?: (w: LiveWorker) => number): WorkerSnapshot[] {
    return live.map((w) => {
      const rec = this.records.get(w.id);
      const l = this.learned.get(w.id);
      const state = this.stateOf(w);
      return {
        id: w.id,
        state,
        freeSlots: state === 'online' ? (freeSlots ? freeSlots(w) : w.freeSlots) : 0,
        tags: rec?.tags ?? [],
        nodeTypes: l?.capabilities?.nodeTypes ?? null,
        models: l?.capabilities?.models ?? null,
        lastCheckpoint: l?.lastCheckpoint ?? null,
        idleSince: l?.idleSince ?? null,
        blockedWorkflows: new Set(this.health(w.id).blocked),
      };
    });
  }
}

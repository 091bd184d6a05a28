/**
 * Since when each worker has been in its state, from the bus's worker events:
 * what lets the monitor say "waiting for w1 to come back since 14:02". A
 * worker not seen changing since this started has `since` null.
 */
import type { Engine } from './engine.js';
import type { WorkerState } from './events.js';

export interface WorkerPresenceEntry {
  id: string;
  state: WorkerState;
  /** when it entered that state, ms; null when not seen changing */
  since: number | null;
}

export class WorkerPresence {
  private readonly since = new Map<string, { state: WorkerState; at: number }>();

  constructor(
    private readonly engine: Engine,
    now: () => number,
  ) {
    engine.bus.subscribe((e) => {
      if (e.type !== 'worker.state') return;
      if (this.since.get(e.worker)?.state !== e.state)
        this.since.set(e.worker, { state: e.state, at: now() });
    });
  }

  list(): WorkerPresenceEntry[] {
    return [...this.engine.workers.values()].map((w) => this.of(w.id)!);
  }

  of(id: string): WorkerPresenceEntry | null {
    const w = this.engine.workers.get(id);
    if (!w) return null;
    const seen = this.since.get(id);
    return { id, state: w.state, since: seen?.state === w.state ? seen.at : null };
  }
}

/**
 * Batch progress for the event websocket (docs/events.md, `batch.progress`):
 * every change of an item marks its batch; a marked batch's figures are read
 * and sent at most once per interval however fast its items finish, with the
 * indexes of the items that changed since the previous send. The pacing is
 * push-throttle.ts's, with a batch's count of changes as its revision.
 */
import { decidePush, NEVER_PUSHED, type PushState, pushed } from '../domain/push-throttle.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';

/** A few sends per second per batch at most. */
export const BATCH_PUSH_INTERVAL_MS = 250;
/** Beyond this many changed items between two sends, the send says "many" (null) instead of listing them. */
export const CHANGED_MAX = 500;

export interface Timer {
  cancel(): void;
}

export interface BatchPushOptions {
  /** Reads batch `id`'s figures and sends them with `changed` (item indexes; null: many or unknown). */
  send(id: number, changed: number[] | null): Promise<void>;
  now(): number;
  intervalMs?: number;
  /** arms a one-shot timer (tests pass their own clock) */
  schedule?: (fn: () => void, ms: number) => Timer;
  log?: Logger;
}

interface Mark {
  /** changes seen so far: the revision push-throttle compares */
  revision: number;
  state: PushState;
  timer: Timer | null;
  /** a send is under way: the next waits for it */
  sending: boolean;
  /** items changed since the last send; null when more than CHANGED_MAX or a change of the whole batch */
  changed: Set<number> | null;
}

const realTimer = (fn: () => void, ms: number): Timer => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export class BatchPush {
  private readonly marks = new Map<number, Mark>();
  private readonly interval: number;
  private readonly schedule: (fn: () => void, ms: number) => Timer;
  private closed = false;

  constructor(private readonly opts: BatchPushOptions) {
    this.interval = opts.intervalMs ?? BATCH_PUSH_INTERVAL_MS;
    this.schedule = opts.schedule ?? realTimer;
  }

  /** Item `index` of batch `id` changed; null: the batch as a whole (paused, cancelled, re-run...). */
  changed(id: number, index: number | null): void {
    if (this.closed) return;
    let m = this.marks.get(id);
    if (!m) {
      m = { revision: 0, state: NEVER_PUSHED, timer: null, sending: false, changed: new Set() };
      this.marks.set(id, m);
    }
    m.revision++;
    if (index === null || m.changed === null || m.changed.size >= CHANGED_MAX) m.changed = null;
    else m.changed.add(index);
    if (m.timer === null && !m.sending) this.consider(id, m);
  }

  /** Forgets a batch that is gone (its marks would only be sent as "no such batch" again). */
  forget(id: number): void {
    this.marks.get(id)?.timer?.cancel();
    this.marks.delete(id);
  }

  close(): void {
    this.closed = true;
    for (const m of this.marks.values()) m.timer?.cancel();
    this.marks.clear();
  }

  private consider(id: number, m: Mark): void {
    m.timer = null;
    if (this.closed) return;
    const now = this.opts.now();
    const d = decidePush(m.state, m.revision, now, this.interval);
    if (d.kind === 'skip') return;
    if (d.kind === 'wait') {
      m.timer = this.schedule(() => this.consider(id, m), d.delayMs);
      return;
    }
    m.state = pushed(m.revision, now);
    const changed = m.changed === null ? null : [...m.changed].sort((a, b) => a - b);
    m.changed = new Set();
    m.sending = true;
    this.opts
      .send(id, changed)
      .catch((err) => {
        // Safe: this send is dropped; the batch's next change sends its figures again.
        (this.opts.log ?? silentLogger).warn(
          { err, batch: id },
          `batch progress not sent: ${errMessage(err)}`,
        );
      })
      .finally(() => {
        m.sending = false;
        // Changes that came while the figures were read go out in the next slot.
        if (this.marks.get(id) === m && m.timer === null) this.consider(id, m);
      });
  }
}

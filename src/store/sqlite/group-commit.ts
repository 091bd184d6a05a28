/**
 * Group commit: requests that arrive in the same event-loop turn are handed
 * to `write` together, so one transaction (one fsync) serves all of them, and
 * each caller's promise settles only after that write has returned.
 *
 * The flush runs on setImmediate rather than a microtask: requests parsed in
 * the same poll phase (many HTTP bodies read at once) then share a commit.
 * `write` is synchronous (better-sqlite3), so while one batch commits the
 * next one simply accumulates.
 */
export type BatchWriter<I, O> = (items: readonly I[]) => O[];

interface Waiter<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<I, O> {
  private queue: Waiter<I, O>[] = [];
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly write: BatchWriter<I, O>) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Writes whatever is waiting now (also used before close). */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let outs: O[];
    try {
      outs = this.write(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => {
      w.resolve(outs[i] as O);
    });
  }
}

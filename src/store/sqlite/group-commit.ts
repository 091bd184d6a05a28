/**
 * Group commit: requests that arrive in the same event-loop turn are handed
 * to `write` together, so one transaction (one fsync) serves all of them, and
 * each caller's promise settles only after that write has returned.
 *
 * The flush runs on setImmediate rather than a microtask: requests parsed in
 * the same poll phase (many HTTP bodies read at once) then share a commit.
 * `write` commits at once (better-sqlite3 is synchronous) or, when it must
 * wait for a lock, answers a promise; either way a caller's promise settles
 * only with the committed result, and a failed commit rejects every request
 * of the batch.
 */
export type BatchWriter<I, O> = (items: readonly I[]) => O[] | Promise<O[]>;

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
    let outs: O[] | Promise<O[]>;
    try {
      outs = this.write(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const settle = (done: O[]) =>
      batch.forEach((w, i) => {
        w.resolve(done[i] as O);
      });
    if (Array.isArray(outs)) settle(outs);
    else
      outs.then(settle, (err: unknown) => {
        for (const w of batch) w.reject(err);
      });
  }
}

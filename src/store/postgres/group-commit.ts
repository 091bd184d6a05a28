/**
 * Group commit on PostgreSQL: enqueue calls that arrive while a batch is
 * being written wait and go together in the next transaction, so one commit
 * (one WAL flush) serves many calls and batches are written one after the
 * other, in arrival order. A failed batch rejects each of its calls.
 */
export type BatchWriter<I, O> = (items: readonly I[]) => Promise<O[]>;

interface Waiter<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

export class SerialGroupCommit<I, O> {
  private queue: Waiter<I, O>[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly write: BatchWriter<I, O>,
    private readonly maxBatch = 1_000,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) this.scheduled ??= setImmediate(() => this.start());
    });
  }

  private start(): void {
    this.scheduled = null;
    if (this.running || this.queue.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.scheduled ??= setImmediate(() => this.start());
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const outs = await this.write(batch.map((w) => w.item));
        batch.forEach((w, i) => {
          w.resolve(outs[i] as O);
        });
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
  }

  /** Resolves once every call submitted so far is written (or refused). */
  async idle(): Promise<void> {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.start();
    }
    while (this.running) await this.running;
  }
}

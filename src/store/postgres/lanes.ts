/**
 * Writes about one thing (a job, a setting, a worker) commit in the order
 * they were asked; writes about different things run side by side on the
 * pool. Without it, two writes to one job issued back to back could reach the
 * database in either order on two connections.
 */
export class Lanes {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    const result = before ? before.then(fn) : fn();
    // The lane only waits for the write to settle; its outcome reaches the caller through `result`.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once every write asked so far has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}

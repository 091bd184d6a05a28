/**
 * Re-checks pending jobs against the workers' /object_info (at start-up and
 * whenever a worker (re)connects): a job no known worker can run any more (a
 * node type disappeared, an option went away) fails with an `invalid_job`
 * error saying why, instead of being dropped or failing on every worker.
 */

import type { JobError } from '../domain/job.js';
import type { ObjectInfoMap } from '../domain/prompt-graph.js';
import { validatePrompt } from '../domain/prompt-graph.js';
import type { JobStore } from '../store/job-store.js';
import type { EventBus } from './events.js';

const BATCH = 500;

/** Why a prompt cannot run, or null when at least one of `infos` accepts it. */
export function invalidReason(
  prompt: unknown,
  targets: string[] | null,
  infos: readonly ObjectInfoMap[],
): JobError | null {
  let first: JobError | null = null;
  for (const info of infos) {
    const r = validatePrompt(prompt, info, targets);
    if (r.ok) return null;
    const e = r.body.error;
    first ??= {
      type: 'invalid_job',
      message: `No worker can run this job any more: ${e.message}${e.details ? ` (${e.details})` : ''}`,
      details: r.body,
    };
  }
  return first;
}

export class PendingRevalidator {
  private running: Promise<number> | null = null;
  private again = false;

  constructor(
    private readonly store: JobStore,
    private readonly bus: EventBus,
    private readonly now: () => number,
  ) {}

  /** Runs one pass (or schedules one more after the current); resolves the number of jobs failed by the last pass. */
  run(infos: () => readonly ObjectInfoMap[]): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let failed = 0;
      do {
        this.again = false;
        failed = await this.pass(infos());
      } while (this.again);
      return failed;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(infos: readonly ObjectInfoMap[]): Promise<number> {
    if (infos.length === 0) return 0;
    let offset = 0;
    let failed = 0;
    for (;;) {
      const batch = await this.store.listPending(BATCH, offset);
      if (batch.length === 0) return failed;
      let kept = batch.length;
      for (const job of batch) {
        const error = invalidReason(job.prompt, job.targets, infos);
        if (!error) continue;
        const done = await this.store.finishPending(job.id, { status: 'failed', endedAt: this.now(), error });
        if (done) {
          kept--;
          failed++;
          this.bus.publish({ type: 'job.finished', job: done });
        }
      }
      offset += kept;
      await new Promise((r) => setImmediate(r)); // let requests through between batches
    }
  }
}

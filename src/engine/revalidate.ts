/**
 * Re-checks pending jobs against the workers' /object_info (at start-up and
 * whenever a worker (re)connects). A job no known worker can run any more (a
 * node type disappeared, an option went away) is not failed at once: a worker
 * that restarts without a custom node for a moment must not fail the whole
 * queue. It waits — pending, held back from dispatch, the reason in its JSON —
 * and fails with an `invalid_job` error saying why only when no worker could
 * run it for `graceMs` (10 minutes by default). A worker that can run it again
 * lets it go.
 */

import type { JobError } from '../domain/job.js';
import type { ObjectInfoMap } from '../domain/prompt-graph.js';
import { validatePrompt } from '../domain/prompt-graph.js';
import { withModelsOf } from '../farm/capabilities.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import type { JobStore, PendingCursor } from '../store/job-store.js';
import type { PendingHold } from './engine.js';
import type { EventBus } from './events.js';

/** Jobs read per page, and checked per event-loop turn. */
const PAGE = 500;
const TURN = 100;

/** Why a prompt cannot run, or null when at least one of `infos` accepts it. */
export function invalidReason(
  prompt: unknown,
  targets: string[] | null,
  infos: readonly ObjectInfoMap[],
): JobError | null {
  let first: JobError | null = null;
  for (const info of infos) {
    // A missing model is routing's to wait for, not a reason to hold or fail the job.
    const r = validatePrompt(prompt, withModelsOf(info, prompt), targets);
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

/**
 * Whether a worker could accept the job later: a node type or an option (a
 * file, a model) that a worker may gain back. A graph that is wrong in
 * itself (a required input missing, a wrong type) never will, and fails at once.
 */
export function mayComeBack(error: JobError): boolean {
  const body = error.details as
    | { error?: { type?: string }; node_errors?: Record<string, { errors?: { type?: string }[] }> }
    | undefined;
  if (body?.error?.type === 'missing_node_type') return true;
  const nodeErrors = Object.values(body?.node_errors ?? {});
  return (
    nodeErrors.length > 0 &&
    nodeErrors.every((n) => (n.errors ?? []).every((e) => e.type === 'value_not_in_list'))
  );
}

/** What the revalidator needs of the engine. */
export interface HoldPort {
  readonly store: JobStore;
  readonly bus: EventBus;
  holdOf(id: string): PendingHold | null;
  setHold(id: string, hold: PendingHold | null): void;
  heldIds(): string[];
}

export interface RevalidatorOptions {
  now: () => number;
  /** how long a job no worker can run waits before it fails (0: fails at once) */
  graceMs: number;
  /** the object_info of every worker known */
  infos: () => readonly ObjectInfoMap[];
  log?: Logger;
}

export class PendingRevalidator {
  private running: Promise<number> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly engine: HoldPort,
    private readonly opts: RevalidatorOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Runs one pass (or schedules one more after the current); resolves the number of jobs failed by the last pass. */
  run(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let failed = 0;
      do {
        this.again = false;
        failed = await this.pass(this.opts.infos());
      } while (this.again && !this.closed);
      this.scheduleDeadline();
      return failed;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** With jobs waiting, one more pass when the first of them is due to fail. */
  private scheduleDeadline(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    let first = Number.POSITIVE_INFINITY;
    for (const id of this.engine.heldIds()) first = Math.min(first, this.engine.holdOf(id)?.failAt ?? first);
    if (!Number.isFinite(first)) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.run().catch((err) => {
          // Safe: the jobs keep waiting; the next worker (re)connect runs a pass again.
          this.log.error({ err }, `re-validating waiting jobs failed: ${errMessage(err)}`);
        });
      },
      Math.max(0, first - this.opts.now()) + 10,
    );
    this.timer.unref();
  }

  private async pass(infos: readonly ObjectInfoMap[]): Promise<number> {
    if (infos.length === 0) return 0;
    let failed = 0;
    // Only the jobs held again by this pass: a pass walks every pending job,
    // and a set of all their ids would cost memory in proportion to the queue.
    const heldNow = new Set<string>();
    let after: PendingCursor | null = null;
    for (;;) {
      const page = await this.store.scanPending(PAGE, after);
      if (page.length === 0) break;
      after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
      for (let i = 0; i < page.length; i++) {
        const job = page[i]!;
        if (i % TURN === TURN - 1) await new Promise((r) => setImmediate(r)); // requests go through between slices
        const error = invalidReason(job.prompt, job.targets, infos);
        if (!error) {
          if (this.engine.holdOf(job.id)) this.engine.setHold(job.id, null);
          continue;
        }
        const now = this.opts.now();
        const since = this.engine.holdOf(job.id)?.since ?? now;
        if (mayComeBack(error) && now - since < this.opts.graceMs) {
          this.engine.setHold(job.id, { reason: error.message, since, failAt: since + this.opts.graceMs });
          heldNow.add(job.id);
          continue;
        }
        const waited = now - since;
        const done = await this.store.finishPending(job.id, {
          status: 'failed',
          endedAt: now,
          error:
            waited > 0
              ? { ...error, message: `${error.message} (waited ${Math.round(waited / 1000)} s)` }
              : error,
        });
        this.engine.setHold(job.id, null);
        if (done) {
          failed++;
          this.bus.publish({ type: 'job.finished', job: done });
        }
      }
    }
    // Held jobs this pass did not hold again are runnable now, or no longer pending (cancelled, deleted).
    for (const id of this.engine.heldIds()) if (!heldNow.has(id)) this.engine.setHold(id, null);
    return failed;
  }

  private get store(): JobStore {
    return this.engine.store;
  }

  private get bus(): EventBus {
    return this.engine.bus;
  }
}

/**
 * The seam between the engine and the workers: what the engine asks of a
 * worker (WorkerPort) and what a worker reports back (WorkerReports). Workers
 * import this; the engine never imports a worker implementation.
 */
import type { BinaryFrame } from '../comfy/binary-frames.js';
import type { ComfyMessage } from '../comfy/messages.js';
import type { Job } from '../domain/job.js';
import type { FinishPatch } from '../store/job-store.js';
import type { WorkerState } from './events.js';

export interface WorkerPort {
  readonly id: string;
  readonly url: string;
  readonly state: WorkerState;
  /** online, not drained, and holding fewer jobs than it may */
  readonly hasCapacity: boolean;
  /** how many more jobs it may take now (0 when offline or drained) */
  readonly freeSlots: number;
  draining: boolean;
  /** jobs it holds at once; changed at run time by the operator */
  capacity: number;
  /** ids of the jobs it holds */
  heldJobIds(): string[];
  /** what the worker's /system_stats said last */
  readonly systemStats: Record<string, unknown> | null;
  start(): void;
  stop(): Promise<void>;
  /** submit a job the engine claimed for this worker */
  run(job: Job): void;
  /** take over a job this worker held before a restart */
  adopt(job: Job): void;
  cancel(jobId: string): Promise<boolean>;
  /** jobs submitted to the worker that it has not started: they wait in ComfyUI's own queue */
  waitingJobs(): Job[];
  /**
   * Takes a waiting job back out of ComfyUI's queue (the queue order changed);
   * reported as `withdrawn` when it worked. A job that started meanwhile stays.
   */
  takeBack(jobId: string): Promise<void>;
  /** the worker's node definitions (ComfyUI's /object_info), for routing by capability */
  objectInfo(): Promise<Record<string, unknown>>;
  /**
   * The worker's output node types, read from its /object_info when it
   * (re)connects: a driver reads a run's outcome from its messages with them.
   */
  knowOutputNodes?(types: ReadonlySet<string>): void;
  /**
   * A remote agent renews the leases of its jobs itself (src/agents); the
   * engine renews those of every other worker while it holds them.
   */
  readonly renewsOwnLeases?: boolean;
  /** what carries a remote agent's connection now (null while it is away); absent for other workers */
  readonly transport?: 'websocket' | 'long-poll' | null;
}

export type WorkerFrame =
  | { kind: 'text'; message: ComfyMessage; raw: string }
  | { kind: 'binary'; frame: BinaryFrame | null; raw: Buffer };

/**
 * Reports name the job's attempt the worker got at claim time (`job.attempts`
 * of the claimed job): the fencing token of its lease. A report whose attempt
 * is no longer the job's current one (the job moved on and was claimed again,
 * maybe by the same worker id) changes nothing.
 */
export interface WorkerReports {
  /** ComfyUI finished the job, or refused it. */
  finished(worker: string, jobId: string, patch: FinishPatch, attempt?: number): Promise<void>;
  /** ComfyUI does not have the job: it goes back to pending. */
  lost(worker: string, jobId: string, reason: string, attempt?: number): Promise<void>;
  /** The job was taken back before it started: it goes back to its place in the queue. */
  withdrawn(worker: string, jobId: string, reason?: string, attempt?: number): Promise<void>;
  stateChanged(worker: string, state: WorkerState, detail?: string): void;
  /** A frame from ComfyUI; jobId is set when it belongs to a job this worker runs. */
  frame(worker: string, jobId: string | null, frame: WorkerFrame): void;
  /** The worker can take more work. */
  idle(worker: string): void;
}

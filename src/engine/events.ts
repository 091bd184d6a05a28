/**
 * The event bus: the engine and the workers publish what happens; websockets,
 * the ComfyUI /ws relay and telemetry subscribe. In one process it is a plain
 * in-memory fan-out; a PostgreSQL deployment carries the same events between
 * servers behind this interface.
 */
import type { Job } from '../domain/job.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';

export type WorkerState = 'connecting' | 'online' | 'offline';

export type QueueEvent =
  | { type: 'job.queued'; job: Job }
  | { type: 'job.started'; job: Job }
  | { type: 'job.updated'; job: Job }
  | { type: 'job.released'; job: Job; reason: string }
  | { type: 'job.finished'; job: Job }
  /** a pending job no online worker can run; published when the reason first appears or changes */
  | { type: 'job.waiting'; job: Job; reason: string; since: number }
  | { type: 'job.deleted'; ids: string[] }
  /**
   * A batch changed as a whole: created, paused, resumed, cancelled, re-run, changed or deleted.
   * Changes of single items come as their jobs' events.
   */
  | { type: 'batch.changed'; id: number }
  | { type: 'queue.reordered'; ids: string[] }
  | { type: 'queue.paused' }
  | { type: 'queue.resumed' }
  | { type: 'worker.state'; worker: string; state: WorkerState; detail?: string }
  /** a completed job's output files are all stored in the collect folder or bucket, or given up (src/outputs) */
  | {
      type: 'job.collected';
      jobId: string;
      state: 'stored' | 'failed';
      files: { key: string; bytes: number }[];
      error: string | null;
    }
  /**
   * A ComfyUI message of a job, relayed as the worker sent it: `text` is the
   * JSON text frame, `binary` a binary frame. `jobId` is null for broadcast
   * noise that belongs to no job of ours.
   */
  | {
      type: 'comfy.message';
      worker: string;
      jobId: string | null;
      clientId: string | null;
      text?: string;
      binary?: Buffer;
    };

export type QueueEventType = QueueEvent['type'];
export type Listener = (event: QueueEvent) => void;

export interface EventBus {
  publish(event: QueueEvent): void;
  /** Returns the function that unsubscribes. */
  subscribe(listener: Listener): () => void;
}

export class MemoryEventBus implements EventBus {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly log: Logger = silentLogger) {}

  publish(event: QueueEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        // One broken subscriber must not stop the others or the engine: the change is already committed.
        this.log.error({ err, event: event.type }, `an event subscriber failed: ${errMessage(err)}`);
      }
    }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

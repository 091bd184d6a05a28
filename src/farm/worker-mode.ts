/**
 * A worker's record applied to the port that drives it: its capacity, and
 * its mode (a draining worker finishes what it holds and takes nothing new; a
 * paused one also gives back what waits in its own ComfyUI queue, for others).
 */
import type { WorkerPort } from '../engine/worker-port.js';
import type { WorkerRecord } from '../store/job-store.js';

export async function applyRecord(
  port: WorkerPort,
  rec: WorkerRecord,
  opts: { capacity: boolean },
): Promise<void> {
  if (opts.capacity) port.capacity = rec.capacity;
  port.draining = rec.mode !== 'active';
  if (rec.mode === 'paused') for (const job of port.waitingJobs()) await port.takeBack(job.id);
}

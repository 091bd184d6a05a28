/**
 * Failures fall in three classes, each with its own rule:
 * - `workflow`: the graph is wrong (ComfyUI refused it, or a node raised an
 *   ordinary exception): fail at once, no retry;
 * - `worker`: the worker is the problem (out of memory, CUDA errors, a
 *   ComfyUI that crashed mid-job): try another worker, within the retry budget;
 * - `infrastructure`: the connection, a lapsed lease, a removed worker: back
 *   to pending without spending a retry.
 */
import type { JobError } from '../domain/job.js';

export type FailureClass = 'workflow' | 'worker' | 'infrastructure';

const WORKER_EXCEPTIONS = /OutOfMemoryError|CudaError|AcceleratorError|cuDNN|CUBLAS|NCCL|MemoryError/i;
const WORKER_MESSAGES =
  /out of memory|CUDA error|CUBLAS_STATUS|cuDNN error|device-side assert|Allocation on device|illegal memory access|HIP error|MPS backend out of memory/i;

/** Error types comfy-queue itself gives when the way to the worker broke, not the job. */
const INFRASTRUCTURE_TYPES = new Set([
  'connection_lost',
  'lease_expired',
  'worker_removed',
  'worker_unreachable',
]);

export function classifyFailure(error: Pick<JobError, 'type' | 'message' | 'exception_type'>): FailureClass {
  if (INFRASTRUCTURE_TYPES.has(error.type)) return 'infrastructure';
  if (error.type === 'worker_lost' || error.type === 'worker_crashed' || error.type === 'stalled')
    return 'worker';
  if (error.type === 'execution_error') {
    if (error.exception_type && WORKER_EXCEPTIONS.test(error.exception_type)) return 'worker';
    if (WORKER_MESSAGES.test(error.message)) return 'worker';
    return 'workflow';
  }
  // prompt_rejected, invalid_job and ComfyUI's validation types: the graph is wrong.
  return 'workflow';
}

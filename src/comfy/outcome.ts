/**
 * How a prompt ended, read from ComfyUI's history entry (protocol §2.8, §5.3):
 * success → completed; error with an execution_interrupted message → cancelled;
 * other errors → failed with ComfyUI's execution_error kept.
 */
import type { JobError, JobOutputs } from '../domain/job.js';
import type { HistoryEntry } from './client.js';

export interface Outcome {
  status: 'completed' | 'failed' | 'cancelled';
  outputs: JobOutputs;
  error: JobError | null;
  /** ms timestamps from ComfyUI's own messages, when present */
  executionStart: number | null;
  executionEnd: number | null;
}

export function outcomeFromHistory(entry: HistoryEntry): Outcome {
  const messages = Array.isArray(entry.status?.messages) ? entry.status.messages : [];
  let executionStart: number | null = null;
  let executionEnd: number | null = null;
  let errorPayload: Record<string, unknown> | null = null;
  let interrupted: Record<string, unknown> | null = null;
  for (const m of messages) {
    if (!Array.isArray(m) || typeof m[0] !== 'string' || !m[1] || typeof m[1] !== 'object') continue;
    const [name, data] = m;
    const ts = typeof data.timestamp === 'number' ? data.timestamp : null;
    if (name === 'execution_start') executionStart = ts;
    if (name === 'execution_success' || name === 'execution_error' || name === 'execution_interrupted') {
      executionEnd = ts;
    }
    if (name === 'execution_error') errorPayload = data;
    if (name === 'execution_interrupted') interrupted = data;
  }
  const outputs = (entry.outputs && typeof entry.outputs === 'object' ? entry.outputs : {}) as JobOutputs;
  const statusStr = entry.status?.status_str;
  if (statusStr === 'error' && interrupted) {
    return {
      status: 'cancelled',
      outputs,
      error: {
        type: 'interrupted',
        message: 'The job was interrupted',
        node_id: str(interrupted.node_id),
        node_type: str(interrupted.node_type),
      },
      executionStart,
      executionEnd,
    };
  }
  if (statusStr === 'error') {
    return {
      status: 'failed',
      outputs,
      error: errorFromExecutionError(errorPayload),
      executionStart,
      executionEnd,
    };
  }
  return { status: 'completed', outputs, error: null, executionStart, executionEnd };
}

/** ComfyUI's execution_error payload kept as the job's error. */
export function errorFromExecutionError(payload: Record<string, unknown> | null): JobError {
  if (!payload) return { type: 'execution_error', message: 'ComfyUI reported an error without details' };
  return {
    type: 'execution_error',
    message: typeof payload.exception_message === 'string' ? payload.exception_message : 'execution error',
    node_id: str(payload.node_id),
    node_type: str(payload.node_type),
    exception_type: typeof payload.exception_type === 'string' ? payload.exception_type : undefined,
    traceback: Array.isArray(payload.traceback) ? payload.traceback.map(String) : undefined,
    details: payload,
  };
}

/** ComfyUI's 400 answer to POST /prompt kept as the job's error. */
export function errorFromRejection(status: number, body: unknown): JobError {
  const err = (body as { error?: unknown } | null)?.error;
  const e = err && typeof err === 'object' ? (err as Record<string, unknown>) : null;
  const message =
    (e && typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : null) ??
    `ComfyUI refused the prompt (HTTP ${status})`;
  const details = e && typeof e.details === 'string' && e.details ? `: ${e.details}` : '';
  return { type: 'prompt_rejected', message: message + details, details: body };
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

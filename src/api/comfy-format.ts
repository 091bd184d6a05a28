/**
 * comfy-queue's jobs in ComfyUI's wire shapes (comfyui-protocol.md §2.4,
 * §2.8, §5, seed 003): the 5-element queue tuple, the history entry and the
 * /api/jobs job dict. Pure. A finished job's history messages are rebuilt
 * from what the store keeps: its start and end times and its error.
 */
import { comfyNumber } from '../domain/comfy-number.js';
import { normalizeOutputs, outputsSummary } from '../domain/comfy-outputs.js';
import type { Job, JobError } from '../domain/job.js';
import type { ObjectInfoMap } from '../domain/prompt-graph.js';
import type { JobListItem } from '../store/job-query.js';

type Dict = Record<string, unknown>;

/** extra_data as ComfyUI shows it: with the client_id the prompt was submitted with. */
export function extraDataView(job: Pick<Job, 'extraData' | 'clientId'>): Dict {
  return job.clientId === null ? job.extraData : { ...job.extraData, client_id: job.clientId };
}

/** The output nodes ComfyUI would execute: the targets, else the graph's output nodes per object_info. */
export function outputsToExecute(job: Pick<Job, 'prompt' | 'targets'>, info: ObjectInfoMap | null): string[] {
  if (job.targets) return job.targets;
  if (!info) return [];
  return Object.entries(job.prompt)
    .filter(([, node]) => info[node.class_type]?.output_node === true)
    .map(([id]) => id);
}

/** `[number, prompt_id, prompt, extra_data, outputs_to_execute]` */
export function queueTuple(job: Job, info: ObjectInfoMap | null): unknown[] {
  return [comfyNumber(job), job.id, job.prompt, extraDataView(job), outputsToExecute(job, info)];
}

/** The execution_error payload of a failed job: ComfyUI's own when it came from ComfyUI, else one built from the error. */
export function executionErrorPayload(job: Pick<Job, 'id' | 'error' | 'endedAt'>): Dict {
  const e: JobError = job.error ?? { type: 'error', message: 'The job failed' };
  const details = e.details as Dict | undefined;
  if (e.type === 'execution_error' && details && typeof details === 'object' && !Array.isArray(details)) {
    return { ...details, prompt_id: job.id };
  }
  return {
    prompt_id: job.id,
    node_id: e.node_id ?? null,
    node_type: e.node_type ?? null,
    executed: [],
    exception_message: e.message,
    exception_type: e.exception_type ?? e.type,
    traceback: e.traceback ?? [],
    current_inputs: {},
    current_outputs: [],
    timestamp: job.endedAt,
  };
}

/** The history `status` object of a finished job. */
export function historyStatus(job: Pick<Job, 'id' | 'status' | 'startedAt' | 'endedAt' | 'error'>): {
  status_str: 'success' | 'error';
  completed: boolean;
  messages: [string, Dict][];
} {
  const messages: [string, Dict][] = [];
  if (job.startedAt !== null) {
    messages.push(['execution_start', { prompt_id: job.id, timestamp: job.startedAt }]);
    messages.push(['execution_cached', { nodes: [], prompt_id: job.id, timestamp: job.startedAt }]);
  }
  if (job.status === 'completed') {
    messages.push(['execution_success', { prompt_id: job.id, timestamp: job.endedAt }]);
  } else if (job.status === 'cancelled') {
    messages.push([
      'execution_interrupted',
      {
        prompt_id: job.id,
        node_id: job.error?.node_id ?? null,
        node_type: job.error?.node_type ?? null,
        executed: [],
        timestamp: job.endedAt,
      },
    ]);
  } else {
    messages.push(['execution_error', executionErrorPayload(job)]);
  }
  const ok = job.status === 'completed';
  return { status_str: ok ? 'success' : 'error', completed: ok, messages };
}

export function historyEntry(job: Job, info: ObjectInfoMap | null): Dict {
  const outputs = job.outputs ?? {};
  const meta: Dict = {};
  for (const id of Object.keys(outputs)) {
    meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
  }
  return { prompt: queueTuple(job, info), outputs, status: historyStatus(job), meta };
}

function prune(o: Dict): Dict {
  for (const k of Object.keys(o)) if (o[k] === null || o[k] === undefined) delete o[k];
  return o;
}

/** A job of GET /api/jobs: null fields omitted; timing, error and outputs only once finished. */
export function apiJob(item: JobListItem): Dict {
  const finished = item.status === 'completed' || item.status === 'failed' || item.status === 'cancelled';
  if (!finished) {
    return prune({
      id: item.id,
      status: item.status,
      priority: comfyNumber(item),
      create_time: item.createdAt,
      outputs_count: 0,
      workflow_id: item.workflowId,
    });
  }
  const { count, preview } = outputsSummary(item.outputs);
  return prune({
    id: item.id,
    status: item.status,
    priority: comfyNumber(item),
    create_time: item.createdAt,
    execution_start_time: item.startedAt,
    execution_end_time: item.endedAt,
    execution_error: item.status === 'failed' ? executionErrorPayload(item) : null,
    outputs_count: count,
    preview_output: preview,
    workflow_id: item.workflowId,
  });
}

/** GET /api/jobs/{id}: the list fields, plus outputs, execution_status and workflow once finished. */
export function apiJobFull(job: Job, workflowId: string | null): Dict {
  const item: JobListItem = {
    ...job,
    fair: job.fair ?? 0,
    workflowId,
    durationMs: job.startedAt !== null && job.endedAt !== null ? job.endedAt - job.startedAt : 0,
  };
  const out = apiJob(item);
  if (job.status === 'pending' || job.status === 'in_progress') return out;
  out.outputs = normalizeOutputs(job.outputs ?? {});
  out.execution_status = historyStatus(job);
  out.workflow = { prompt: job.prompt, extra_data: extraDataView(job) };
  return out;
}

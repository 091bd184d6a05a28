/**
 * What the dashboard reads from comfy-queue, as docs/api.md and docs/events.md
 * describe it. Only the fields the screens use are typed.
 */

export type JobStatus = 'pending' | 'in_progress' | 'completed' | 'failed' | 'cancelled';

export interface ImageRef {
  filename: string;
  subfolder: string;
  type: 'input' | 'output' | 'temp';
}

export interface JobError {
  type: string;
  message: string;
  node_id?: string | null;
  node_type?: string | null;
  exception_type?: string | null;
  traceback?: string[] | string | null;
}

export interface Progress {
  promptId: string;
  revision: number;
  status: 'queued' | 'starting' | 'indeterminate' | 'running' | 'completed' | 'failed' | 'cancelled';
  percent: number;
  nodes: { done: number; total: number; cached: number };
  currentNode: {
    id: string;
    displayId: string;
    classType: string | null;
    title: string;
    step: { value: number; max: number } | null;
  } | null;
  itPerSec: number | null;
  nodeEtaMs: number | null;
  etaMs: number | null;
  elapsedMs: number;
  outputs: readonly { nodeId: string; classType: string | null; title: string; images: ImageRef[] }[];
  error: unknown;
}

/** A job of /api/pqueue (docs/api.md "A job"). */
export interface Job {
  prompt_id: string;
  name: string | null;
  display_name: string;
  status: JobStatus;
  priority: number;
  position: number;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  worker: string | null;
  attempts: number;
  error: JobError | null;
  outputs: Record<string, { images?: ImageRef[] } & Record<string, unknown>> | null;
  flagged: boolean;
  client_id: string | null;
  workflow_id: string | null;
  requeued_from: string | null;
  progress?: Progress | null;
}

/** One node a failed job's error names (docs/api.md "A job"). */
export interface ErrorNode {
  node_id: string;
  class_type: string | null;
  title: string | null;
  input_name: string | null;
  type: string;
  message: string;
  details: string | null;
}

/** A single-job answer: the job in full. */
export interface JobFull extends Job {
  prompt: Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title?: string } }>;
  workflow: unknown;
  extra_data: Record<string, unknown>;
  error_nodes: ErrorNode[];
}

/** A card of GET /api/admin/queue. */
export interface JobCard {
  prompt_id: string;
  /** running: its worker executes it; waiting: handed to a worker, in that ComfyUI's queue; queued: pending here */
  status: 'running' | 'waiting' | 'queued' | string;
  workflow_name: string;
  queued_at: number;
  started_at: number | null;
  prompt_excerpt: string | null;
  seed: number | null;
  workflow_id: string | null;
  output_folder: string | null;
  thumbnail: (ImageRef & { source: 'output' | 'input'; url: string }) | null;
  worker: string | null;
  priority: number;
  attempts: number;
  flagged: boolean;
  progress: Progress | null;
  /** worker tags the job asks for */
  requires?: string[];
  /** why a queued job cannot start yet (a model, tag or node type no online worker has) */
  waiting?: { reason: string; since: number; fails_at: number | null } | null;
  retries?: number;
  estimate?: { expected_ms: number | null; starts_in_ms?: number | null; starts_in?: string | null } | null;
  /** handed jobs: their worker's state and since when */
  worker_state?: string | null;
  worker_state_since?: number | null;
  /** handed jobs: when their worker last said anything about them */
  last_message_at?: number | null;
}

export interface WorkerPresence {
  id: string;
  state: string;
  since: number | null;
}

export type Counts = Partial<Record<JobStatus, number>>;

export interface AdminQueue {
  paused: boolean;
  jobs: JobCard[];
  pending_total: number;
  running_total?: number;
  waiting_total?: number;
  offset?: number;
  q?: string | null;
  /** with `q`: how many pending jobs match */
  matched?: number | null;
  workers?: WorkerPresence[];
  counts: Counts;
}

/** Which pending jobs a bulk action takes: listed ones, or all matching a search less some. */
export type QueueSelection = { ids: string[] } | { q: string; except: string[] };

export interface Telemetry {
  at: number;
  host: {
    cpu: { percent: number | null; cores: number };
    ram: { total: number; used: number; percent: number };
    disk: { path: string; total: number; free: number; used: number; percent: number } | null;
    gpus: {
      index: number;
      name: string;
      utilization_percent: number | null;
      vram_total: number | null;
      vram_used: number | null;
      vram_percent: number | null;
    }[];
  };
  workers: {
    id: string;
    url: string;
    state: string;
    fresh: boolean;
    error: string | null;
    ram_total: number | null;
    ram_free: number | null;
    comfyui_version: string | null;
    devices: { name: string; type: string; index: number | null; vram_total: number | null; vram_free: number | null }[];
  }[];
}

export type FarmWorkerState = 'online' | 'offline' | 'draining' | 'paused' | 'quarantined';
export type FarmWorkerMode = 'active' | 'draining' | 'paused';

/** A GPU ComfyUI reports in its /system_stats. */
export interface SystemDevice {
  name: string;
  type: string;
  index: number | null;
  vram_total: number | null;
  vram_free: number | null;
}

/** A worker of GET /api/farm/workers. */
export interface FarmWorker {
  id: string;
  /** 'push' (a ComfyUI driven from the server) or 'agent' (a remote agent that pulls work) */
  kind: string;
  source: string;
  /** null for an agent */
  url: string | null;
  state: FarmWorkerState;
  connection: string;
  /** how a remote agent is connected now: 'websocket' or 'long-poll' (HTTP, where websockets are blocked); null otherwise */
  transport?: 'websocket' | 'long-poll' | null;
  /** with several servers on one database: false when another server drives it */
  here?: boolean;
  /** with several servers: the name of the server that drives it (null: this one, or none) */
  server?: string | null;
  tags: string[];
  capacity: number;
  mode: FarmWorkerMode;
  jobs: string[];
  waiting_jobs: string[];
  quarantined_until: number | null;
  failure_streak: number;
  blocked_workflows: string[];
  capabilities: { node_types: number; models: string[] } | null;
  system_stats: {
    system?: { ram_total?: number; ram_free?: number; comfyui_version?: string };
    devices?: SystemDevice[];
  } | null;
  stats: { window_ms: number; completed: number; failed: number; mean_ms: number | null; busy_share: number };
  created_at: number;
  updated_at: number;
}

export interface FarmWorkerPatch {
  tags?: string[];
  capacity?: number;
  mode?: FarmWorkerMode;
  release?: true;
  unblock?: true | string;
}

export interface WorkerSummary {
  id: string;
  url: string;
  state: string;
  jobs: string[];
}

/** One finished job as the History screen shows it, whichever route it came from. */
export interface HistoryItem {
  id: string;
  name: string;
  status: JobStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** ended_at − started_at, null unless both are set */
  duration_ms: number | null;
  worker: string | null;
  flagged: boolean;
  workflow_id: string | null;
  /** a URL of a small image, or null */
  thumb: string | null;
  error: string | null;
}

export interface HistoryQuery {
  statuses: JobStatus[];
  from: number | null;
  to: number | null;
  text: string;
  worker: string;
  flagged: boolean;
  /** newest/oldest: by when they ended (the time shown); longest/shortest: by how long they ran */
  sort: 'newest' | 'oldest' | 'longest' | 'shortest';
}

export interface HistoryPage {
  items: HistoryItem[];
  cursor: string | null;
}

/** A batch's figures, at most a few times a second while its items change (docs/events.md). */
export interface BatchProgressMessage {
  type: 'batch.progress';
  at: number;
  batch_id: number;
  state: 'running' | 'paused' | 'finished';
  paused: boolean;
  total: number;
  counts: { pending: number; in_progress: number; completed: number; failed: number; cancelled: number };
  tracker: Record<'inactive' | 'working' | 'complete' | 'done' | 'error' | 'flagged', number>;
  per_minute: number;
  eta_ms: number | null;
  /** the indexes of the items that changed since the previous message; null: many, or the whole batch */
  changed: number[] | null;
}

/** Text messages of the event websocket (docs/events.md). */
export type EventMessage =
  | {
      type: 'snapshot';
      at: number;
      paused: boolean;
      running: { job: Job; progress: Progress | null }[];
      workers: WorkerSummary[];
      previews: string[];
    }
  | { type: 'progress'; at: number; job_id: string; worker: string; progress: Progress | null }
  | ({ type: 'telemetry' } & Telemetry)
  | { type: 'queue.paused' | 'queue.resumed'; at: number }
  | { type: 'job.deleted' | 'queue.reordered'; at: number; ids: string[] }
  | BatchProgressMessage
  | { type: 'batch.deleted'; at: number; batch_id: number }
  | { type: `job.${string}`; at: number; job: Job }
  | { type: `worker.${string}`; at: number; worker: string; detail: unknown };

export interface PreviewFrame {
  jobId: string;
  nodeId: string | null;
  mime: string;
  bytes: Uint8Array;
}

/** The shapes of the API answers the command line reads (docs/api.md, docs/events.md), as far as it reads them. */
import type { JobView, ProgressView } from './progress-bar.js';

export interface ApiJobError {
  type?: string;
  message?: string;
  node_id?: string | null;
  node_type?: string | null;
  exception_type?: string;
  traceback?: string[];
}

export interface ApiJob extends JobView {
  prompt_id: string;
  name: string | null;
  display_name: string;
  status: string;
  priority: number;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  worker: string | null;
  attempts: number;
  error: ApiJobError | null;
  outputs: Record<string, Record<string, unknown>> | null;
  flagged: boolean;
  client_id: string | null;
  workflow_id: string | null;
  requeued_from: string | null;
  progress?: ProgressView | null;
  estimate?: { starts_in?: string | null; remaining_ms?: number | null } | null;
  /** single-job answers */
  prompt?: Record<string, { class_type?: string }>;
  workflow?: unknown;
}

export interface QueueAnswer {
  paused: boolean;
  running: ApiJob[];
  pending: ApiJob[];
  pending_total: number;
  counts: Record<string, number>;
}

export interface HistoryJob extends ApiJob {
  execution_duration: number;
  outputs_count: number;
  preview_output: { filename: string } | null;
}

export interface HistoryPage {
  jobs: HistoryJob[];
  has_more: boolean;
  next_cursor: string | null;
}

/** A text frame of the event websocket. */
export interface EventMessage {
  type: string;
  at: number;
  job?: ApiJob;
  job_id?: string;
  worker?: string;
  progress?: ProgressView;
  ids?: string[];
  reason?: string;
  detail?: string | null;
  /** snapshot */
  paused?: boolean;
  running?: { job: ApiJob; progress: ProgressView | null }[];
  workers?: { id: string; url: string; state: string }[];
}

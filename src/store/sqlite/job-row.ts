/**
 * Conversion between `Job` and a row of the `jobs` table: snake_case columns,
 * JSON documents as TEXT, booleans as 0/1, SQL NULL for absent values.
 */
import type Database from 'better-sqlite3';
import type { Job, JobError, JobOutputs, JobStatus, NewJob, PromptGraph } from '../../domain/job.js';

export interface JobRow {
  id: string;
  name: string | null;
  prompt: string;
  workflow: string | null;
  extra_data: string;
  sensitive: string | null;
  client_id: string | null;
  priority: number;
  position: number;
  status: JobStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  worker: string | null;
  attempts: number;
  error: string | null;
  outputs: string | null;
  lease_until: number | null;
  targets: string | null;
  flagged: number;
  requeued_from: string | null;
  requires: string | null;
  retries: number;
  batch_id?: number | null;
  batch_index?: number | null;
  batch_past?: number | null;
  owner?: string | null;
  fair?: number;
  held?: number;
  tracker?: string | null;
}

const ROW_COLUMNS = [
  'id',
  'name',
  'prompt',
  'workflow',
  'extra_data',
  'sensitive',
  'client_id',
  'priority',
  'position',
  'status',
  'created_at',
  'started_at',
  'ended_at',
  'worker',
  'attempts',
  'error',
  'outputs',
  'lease_until',
  'targets',
  'flagged',
  'requeued_from',
  'requires',
  'retries',
  'batch_id',
  'batch_index',
  'batch_past',
  'owner',
  'fair',
  'held',
  'tracker',
] as const satisfies readonly (keyof JobRow)[];

/**
 * The stored columns of `jobs`, the ones a JobRow holds (`j.` before each
 * with a prefix): what a read of jobs selects, instead of `*`, which also
 * computes the generated columns of migration 0002 for every row read:
 * `workflow_id` parses the workflow's JSON three times. Only listings and
 * their indexes use those.
 */
export function jobRowColumns(prefix = ''): string {
  return ROW_COLUMNS.map((c) => prefix + c).join(', ');
}

/**
 * A JobRow from a row read as an array of values in ROW_COLUMNS order
 * (jobRowStatement). better-sqlite3 builds a row object key by key, each
 * key a string it looks up again for every row; an object literal here
 * costs a fraction of that.
 */
export function rowFromValues(v: readonly unknown[]): JobRow {
  return {
    id: v[0] as string,
    name: v[1] as string | null,
    prompt: v[2] as string,
    workflow: v[3] as string | null,
    extra_data: v[4] as string,
    sensitive: v[5] as string | null,
    client_id: v[6] as string | null,
    priority: v[7] as number,
    position: v[8] as number,
    status: v[9] as JobStatus,
    created_at: v[10] as number,
    started_at: v[11] as number | null,
    ended_at: v[12] as number | null,
    worker: v[13] as string | null,
    attempts: v[14] as number,
    error: v[15] as string | null,
    outputs: v[16] as string | null,
    lease_until: v[17] as number | null,
    targets: v[18] as string | null,
    flagged: v[19] as number,
    requeued_from: v[20] as string | null,
    requires: v[21] as string | null,
    retries: v[22] as number,
    batch_id: v[23] as number | null,
    batch_index: v[24] as number | null,
    batch_past: v[25] as number | null,
    owner: v[26] as string | null,
    fair: v[27] as number,
    held: v[28] as number,
    tracker: v[29] as string | null,
  };
}

type Params<P> = P extends unknown[] ? P : [P];

/** A statement that reads job rows, its rows read as arrays and made into JobRows (rowFromValues). */
export interface JobRowStatement<P> {
  get(...params: Params<P>): JobRow | undefined;
  all(...params: Params<P>): JobRow[];
}

/** `sql` (selecting jobRowColumns(), or RETURNING them) prepared to read JobRows. */
export function jobRowStatement<P extends unknown[] | object = []>(
  db: Database.Database,
  sql: string,
): JobRowStatement<P> {
  const stmt = db.prepare<P, unknown[]>(sql).raw(true);
  const run = stmt as unknown as {
    get(...params: Params<P>): unknown[] | undefined;
    all(...params: Params<P>): unknown[][];
  };
  return {
    get: (...params) => {
      const v = run.get(...params);
      return v === undefined ? undefined : rowFromValues(v);
    },
    all: (...params) => run.all(...params).map(rowFromValues),
  };
}

/** The parameters of the INSERT, position excepted (it is chosen inside the transaction). */
export type InsertParams = Omit<
  JobRow,
  | 'position'
  | 'status'
  | 'started_at'
  | 'ended_at'
  | 'worker'
  | 'attempts'
  | 'error'
  | 'outputs'
  | 'lease_until'
  | 'flagged'
  | 'retries'
  | 'batch_id'
  | 'batch_index'
  | 'batch_past'
  | 'fair'
  | 'held'
  | 'tracker'
>;

/** JSON text, or SQL NULL for null/undefined. */
export function toJson(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function fromJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** Serializes outside the transaction, so a job that cannot be written fails alone. */
export function insertParams(job: NewJob): InsertParams {
  return {
    id: job.id,
    name: job.name,
    prompt: JSON.stringify(job.prompt),
    workflow: toJson(job.workflow),
    extra_data: JSON.stringify(job.extraData),
    sensitive: toJson(job.sensitive),
    client_id: job.clientId,
    priority: job.priority,
    created_at: job.createdAt,
    targets: toJson(job.targets),
    requeued_from: job.requeuedFrom,
    requires: job.requires?.length ? JSON.stringify(job.requires) : null,
    owner: job.owner ?? job.clientId ?? null,
  };
}

/** The job exactly as a fresh INSERT stores it, without reading it back. */
export function newJobAsStored(job: NewJob, position: number, fair = 0): Job {
  return {
    id: job.id,
    name: job.name,
    prompt: job.prompt,
    workflow: job.workflow ?? null,
    extraData: job.extraData,
    sensitive: job.sensitive,
    clientId: job.clientId,
    priority: job.priority,
    position,
    status: 'pending',
    createdAt: job.createdAt,
    startedAt: null,
    endedAt: null,
    worker: null,
    attempts: 0,
    error: null,
    outputs: null,
    leaseUntil: null,
    targets: job.targets,
    flagged: false,
    requeuedFrom: job.requeuedFrom,
    requires: job.requires ?? [],
    retries: 0,
    owner: job.owner ?? job.clientId ?? null,
    fair,
    batch: null,
    done: false,
  };
}

/** The graph, workflow, extra_data and name of a batch's job, derived from its batch (batch-templates.ts). */
export interface BatchPart {
  prompt: PromptGraph;
  workflow: unknown | null;
  extraData: Record<string, unknown>;
  name: string;
  batchName: string;
}
export type BatchResolver = (batchId: number, index: number) => BatchPart;

/** Parses a job's JSON column; `key` names the job and the column (a cache may answer, parsed-json.ts). */
export type ParseJson = <T>(key: string, text: string) => T;

const parseAfresh: ParseJson = <T>(_key: string, text: string) => JSON.parse(text) as T;

export function rowToJob(r: JobRow, resolve?: BatchResolver, parse: ParseJson = parseAfresh): Job {
  const batchId = r.batch_id ?? r.batch_past ?? null;
  const index = r.batch_index ?? null;
  // A batch's job stores no graph of its own ('' in `prompt`).
  const part =
    batchId !== null && index !== null && r.prompt === '' && resolve ? resolve(batchId, index) : null;
  return {
    id: r.id,
    name: r.name ?? part?.name ?? null,
    prompt: part ? part.prompt : parse<PromptGraph>(`${r.id}\0prompt`, r.prompt),
    workflow: part
      ? part.workflow
      : r.workflow === null
        ? null
        : parse<unknown>(`${r.id}\0workflow`, r.workflow),
    extraData: part
      ? { ...part.extraData, create_time: r.created_at }
      : parse<Record<string, unknown>>(`${r.id}\0extra`, r.extra_data),
    sensitive: fromJson<Record<string, unknown>>(r.sensitive),
    clientId: r.client_id,
    priority: r.priority,
    position: r.position,
    status: r.status,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    worker: r.worker,
    attempts: r.attempts,
    error: fromJson<JobError>(r.error),
    outputs: fromJson<JobOutputs>(r.outputs),
    leaseUntil: r.lease_until,
    targets: fromJson<string[]>(r.targets),
    flagged: r.flagged !== 0,
    requeuedFrom: r.requeued_from,
    requires: fromJson<string[]>(r.requires) ?? [],
    retries: r.retries,
    owner: r.owner ?? null,
    fair: r.fair ?? 0,
    batch:
      batchId !== null && index !== null
        ? { id: batchId, index, name: part?.batchName ?? null, current: r.batch_id != null }
        : null,
    done: r.tracker === 'done',
  };
}

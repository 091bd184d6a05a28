/**
 * The typed client every screen uses. `base` is "" when the page is served by
 * comfy-queue itself, or a comfy-queue address (the custom-node panel).
 */
import type {
  AdminQueue,
  FarmWorker,
  FarmWorkerPatch,
  HistoryItem,
  HistoryPage,
  HistoryQuery,
  ImageRef,
  Job,
  JobFull,
  JobStatus,
  QueueSelection,
  Telemetry,
} from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  base?: string;
  token?: string | null;
  fetch?: typeof fetch;
}

const FINISHED: JobStatus[] = ['completed', 'failed', 'cancelled'];

export class QueueClient {
  readonly base: string;
  private readonly token: string | null;
  private readonly doFetch: typeof fetch;

  constructor(opts: ClientOptions = {}) {
    this.base = (opts.base ?? '').replace(/\/+$/, '');
    this.token = opts.token ?? null;
    this.doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  url(path: string): string {
    return this.base + path;
  }

  /** The event websocket's address. */
  wsUrl(): string {
    const abs = new URL(this.url('/api/pqueue/ws'), globalThis.location?.href ?? 'http://127.0.0.1:8189/');
    abs.protocol = abs.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.token) abs.searchParams.set('token', this.token);
    return abs.toString();
  }

  /** The job's history thumbnail (a placeholder until one is made). */
  thumbUrl(id: string): string {
    const u = this.url(`/api/pqueue/history/thumb/${encodeURIComponent(id)}`);
    return this.token ? `${u}?token=${encodeURIComponent(this.token)}` : u;
  }

  /** ComfyUI's /view for an image, through comfy-queue (which knows the worker holding it). */
  viewUrl(ref: ImageRef): string {
    const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    // An <img> sends no Authorization header; comfy-queue strips this before the worker sees it.
    if (this.token) q.set('token', this.token);
    return this.url(`/view?${q.toString()}`);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const res = await this.doFetch(this.url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } | string } | null)?.error;
      const code = typeof err === 'object' && err?.code ? err.code : `HTTP_${res.status}`;
      const message = typeof err === 'object' ? (err?.message ?? res.statusText) : (err ?? res.statusText);
      throw new ApiError(res.status, code, message);
    }
    return parsed as T;
  }

  adminQueue(opts: { limit?: number; offset?: number; q?: string } = {}): Promise<AdminQueue> {
    const p = new URLSearchParams({ limit: String(opts.limit ?? 100) });
    if (opts.offset) p.set('offset', String(opts.offset));
    if (opts.q?.trim()) p.set('q', opts.q.trim());
    return this.request('GET', `/api/admin/queue?${p.toString()}`);
  }

  /** Deletes or moves a selection of pending jobs (POST /api/pqueue/bulk). */
  bulk(action: 'delete' | 'top' | 'bottom', sel: QueueSelection): Promise<{ action: string; count: number }> {
    const body = 'ids' in sel ? { action, prompt_ids: sel.ids } : { action, match: { q: sel.q }, except: sel.except };
    return this.request('POST', '/api/pqueue/bulk', body);
  }

  /** Moves a pending job one place up (-1) or down (1). */
  moveBy(id: string, by: -1 | 1): Promise<{ moved: boolean }> {
    return this.request('POST', `/api/pqueue/jobs/${encodeURIComponent(id)}/move`, { by });
  }

  /** Whether ComfyUI's own web UI opens through comfy-queue at `path`. */
  comfyUi(): Promise<{ available: boolean; path: string }> {
    return this.request('GET', '/api/pqueue/comfyui');
  }

  telemetry(): Promise<Telemetry> {
    return this.request('GET', '/api/admin/telemetry');
  }

  async farmWorkers(): Promise<FarmWorker[]> {
    return (await this.request<{ workers: FarmWorker[] }>('GET', '/api/farm/workers')).workers;
  }

  addWorker(w: { url: string; name?: string; tags?: string[]; capacity?: number }): Promise<FarmWorker> {
    return this.request('POST', '/api/farm/workers', w);
  }

  patchWorker(id: string, patch: FarmWorkerPatch): Promise<FarmWorker> {
    return this.request('PATCH', `/api/farm/workers/${encodeURIComponent(id)}`, patch);
  }

  removeWorker(id: string): Promise<{ removed: string }> {
    return this.request('DELETE', `/api/farm/workers/${encodeURIComponent(id)}`);
  }

  job(id: string): Promise<JobFull> {
    return this.request('GET', `/api/pqueue/jobs/${encodeURIComponent(id)}`);
  }

  pause(): Promise<{ paused: boolean }> {
    return this.request('POST', '/api/pqueue/pause');
  }

  resume(): Promise<{ paused: boolean }> {
    return this.request('POST', '/api/pqueue/resume');
  }

  reorder(ids: string[]): Promise<unknown> {
    return this.request('POST', '/api/pqueue/reorder', { prompt_ids: ids });
  }

  setPriority(id: string, priority: number): Promise<Job> {
    return this.request('PATCH', '/api/pqueue/priority', { prompt_id: id, priority });
  }

  rename(id: string, name: string | null): Promise<Job> {
    return this.request('PATCH', '/api/pqueue/rename', { prompt_id: id, name });
  }

  remove(ids: string[]): Promise<{ deleted: string[]; skipped: { id: string; reason: string }[] }> {
    return this.request('POST', '/api/pqueue/delete', { prompt_ids: ids });
  }

  cancel(id: string): Promise<Job> {
    return this.request('POST', `/api/pqueue/jobs/${encodeURIComponent(id)}/cancel`);
  }

  requeue(id: string, newSeed = false): Promise<Job> {
    return this.request('POST', `/api/pqueue/jobs/${encodeURIComponent(id)}/requeue`, { new_seed: newSeed });
  }

  flag(id: string, flagged: boolean): Promise<Job> {
    return this.request('POST', `/api/pqueue/jobs/${encodeURIComponent(id)}/flag`, { flagged });
  }

  /** A page of finished jobs from GET /api/pqueue/history: filters, sort and cursor run in the store. */
  async history(q: HistoryQuery, cursor: string | null, limit = 40): Promise<HistoryPage> {
    const params = new URLSearchParams({
      status: (q.statuses.length ? q.statuses : FINISHED).join(','),
      limit: String(limit),
      // The time a tile shows is when the job ended: that is what newest/oldest sort on.
      sort: q.sort === 'longest' || q.sort === 'shortest' ? 'execution_duration' : 'ended_at',
      order: q.sort === 'oldest' || q.sort === 'shortest' ? 'asc' : 'desc',
    });
    if (q.from !== null) params.set('since', String(q.from));
    if (q.to !== null) params.set('until', String(q.to));
    if (q.text.trim()) params.set('q', q.text.trim());
    if (q.worker) params.set('worker', q.worker);
    if (q.flagged) params.set('flagged', 'true');
    if (cursor) params.set('cursor', cursor);
    const page = await this.request<{ jobs: Job[]; has_more: boolean; next_cursor: string | null }>(
      'GET',
      `/api/pqueue/history?${params.toString()}`,
    );
    return { items: page.jobs.map((j) => this.historyItem(j)), cursor: page.has_more ? page.next_cursor : null };
  }

  historyItem(j: Job): HistoryItem {
    return {
      id: j.prompt_id,
      name: j.display_name,
      status: j.status,
      created_at: j.created_at,
      started_at: j.started_at,
      ended_at: j.ended_at,
      duration_ms: j.started_at && j.ended_at ? j.ended_at - j.started_at : null,
      worker: j.worker,
      flagged: j.flagged,
      workflow_id: j.workflow_id,
      // the stored thumbnail (or a placeholder), carrying the workflow for a drop onto ComfyUI
      thumb: this.thumbUrl(j.prompt_id),
      error: j.error?.message ?? null,
    };
  }
}

export function firstImage(outputs: Job['outputs']): ImageRef | null {
  if (!outputs) return null;
  for (const out of Object.values(outputs)) {
    const img = out?.images?.find((i) => typeof i?.filename === 'string');
    if (img) return { filename: img.filename, subfolder: img.subfolder ?? '', type: img.type ?? 'output' };
  }
  return null;
}


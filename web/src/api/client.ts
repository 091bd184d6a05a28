/**
 * The typed client every screen uses. `base` is "" when the page is served by
 * comfy-queue itself, or a comfy-queue address (the custom-node panel).
 */
import type {
  AdminQueue,
  HistoryItem,
  HistoryPage,
  HistoryQuery,
  ImageRef,
  Job,
  JobFull,
  JobStatus,
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

  /** ComfyUI's /view for an image, through comfy-queue (which knows the worker holding it). */
  viewUrl(ref: ImageRef): string {
    const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
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

  adminQueue(limit = 500): Promise<AdminQueue> {
    return this.request('GET', `/api/admin/queue?limit=${limit}`);
  }

  telemetry(): Promise<Telemetry> {
    return this.request('GET', '/api/admin/telemetry');
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

  /**
   * A page of finished jobs. Until comfy-queue has GET /api/pqueue/history,
   * this reads ComfyUI's /api/jobs listing, completes each entry from
   * /api/pqueue/jobs/{id} and applies the filters the listing lacks here.
   */
  async history(q: HistoryQuery, cursor: string | null, limit = 40): Promise<HistoryPage> {
    const statuses = q.statuses.length ? q.statuses : FINISHED;
    const offset = cursor ? Number.parseInt(cursor, 10) || 0 : 0;
    const params = new URLSearchParams({
      status: statuses.join(','),
      limit: String(limit),
      offset: String(offset),
      sort_by: 'created_at',
      sort_order: q.sort === 'oldest' ? 'asc' : 'desc',
    });
    const page = await this.request<{
      jobs: { id: string }[];
      pagination: { has_more: boolean };
    }>('GET', `/api/jobs?${params.toString()}`);
    const jobs = await Promise.all(page.jobs.map((j) => this.job(j.id).catch(() => null)));
    const items = jobs.filter((j): j is JobFull => j !== null).map((j) => this.historyItem(j));
    return {
      items: items.filter((i) => matches(i, q)),
      cursor: page.pagination.has_more ? String(offset + page.jobs.length) : null,
    };
  }

  historyItem(j: Job): HistoryItem {
    const image = firstImage(j.outputs);
    return {
      id: j.prompt_id,
      name: j.display_name,
      status: j.status,
      created_at: j.created_at,
      ended_at: j.ended_at,
      worker: j.worker,
      flagged: j.flagged,
      workflow_id: j.workflow_id,
      thumb: image ? this.viewUrl(image) : null,
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

/** The filters the /api/jobs listing does not apply. */
export function matches(i: HistoryItem, q: HistoryQuery): boolean {
  const t = i.ended_at ?? i.created_at;
  if (q.from !== null && t < q.from) return false;
  if (q.to !== null && t > q.to) return false;
  if (q.worker && i.worker !== q.worker) return false;
  if (q.flagged && !i.flagged) return false;
  const text = q.text.trim().toLowerCase();
  if (text && !`${i.name} ${i.id} ${i.error ?? ''}`.toLowerCase().includes(text)) return false;
  return true;
}

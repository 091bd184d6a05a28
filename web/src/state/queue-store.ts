/**
 * The dashboard's live state: the job cards of GET /api/admin/queue, kept
 * fresh by the event websocket (a queue event triggers a re-read; progress,
 * previews and telemetry are applied as they come) or, while the socket is
 * down, by the fallback polls. Every screen reads this; actions go through
 * the client and the next event brings the server's answer back.
 */
import { reactive } from 'vue';
import type { QueueClient } from '../api/client.js';
import { type LiveState, LiveConnection } from '../api/live.js';
import type {
  Counts,
  EventMessage,
  JobCard,
  PreviewFrame,
  Progress,
  QueueSelection,
  Telemetry,
  WorkerPresence,
  WorkerSummary,
} from '../api/types.js';
import { ApiError } from '../api/client.js';
import { moveCard, reorderPlan } from '../lib/reorder.js';

export interface FinishedNote {
  id: string;
  status: string;
  at: number;
}

export interface QueueState {
  live: LiveState;
  nextPollAt: number | null;
  pollMs: number;
  loaded: boolean;
  error: string | null;
  paused: boolean;
  cards: JobCard[];
  pendingTotal: number;
  counts: Counts;
  progress: Record<string, Progress>;
  /** the latest live preview of each running job, as an object URL */
  previews: Record<string, string>;
  telemetry: Telemetry | null;
  workers: WorkerSummary[];
  /** jobs seen finishing since the page opened, newest last */
  finished: FinishedNote[];
  /** counts the worker events seen: the Workers screen re-reads the farm when it changes */
  workerEvents: number;
  /** bumped by every queue read: the queue list reloads the rows it shows */
  revision: number;
  /** each worker's state and since when (the offline banner) */
  presence: WorkerPresence[];
  /** when the last progress message of each handed job arrived: a silent one is stale */
  progressAt: Record<string, number>;
  /** false while comfy-queue does not answer: the page shows the last state as stale */
  reachable: boolean;
  /** when comfy-queue last answered */
  lastOkAt: number | null;
}

export type QueueStore = ReturnType<typeof createQueueStore>;

export function createQueueStore(client: QueueClient, opts: { pollMs?: number } = {}) {
  const state = reactive<QueueState>({
    live: 'connecting',
    nextPollAt: null,
    pollMs: opts.pollMs ?? 5_000,
    loaded: false,
    error: null,
    paused: false,
    cards: [],
    pendingTotal: 0,
    counts: {},
    progress: {},
    previews: {},
    telemetry: null,
    workers: [],
    finished: [],
    workerEvents: 0,
    revision: 0,
    presence: [],
    progressAt: {},
    reachable: true,
    lastOkAt: null,
  });

  let refreshing: Promise<void> | null = null;
  let again = false;
  let refreshTimer: ReturnType<typeof setTimeout> | null = null;

  async function readQueue(): Promise<void> {
    try {
      const q = await client.adminQueue({ limit: 100 });
      state.paused = q.paused;
      state.cards = q.jobs;
      state.pendingTotal = q.pending_total;
      state.counts = q.counts;
      state.presence = q.workers ?? [];
      for (const c of q.jobs) {
        if (c.progress) state.progress[c.prompt_id] = c.progress;
        if (c.last_message_at && !(state.progressAt[c.prompt_id]! > c.last_message_at))
          state.progressAt[c.prompt_id] = c.last_message_at;
      }
      const handed = new Set(q.jobs.filter((c) => c.status === 'running' || c.status === 'waiting').map((c) => c.prompt_id));
      for (const id of Object.keys(state.progress)) if (!handed.has(id)) forget(id);
      for (const id of Object.keys(state.progressAt)) if (!handed.has(id)) delete state.progressAt[id];
      state.loaded = true;
      state.error = null;
      state.reachable = true;
      state.lastOkAt = Date.now();
      state.revision++;
    } catch (err) {
      // Not answering at all (a network error, not an HTTP answer): the page says it reconnects.
      if (err instanceof ApiError) state.error = err.message;
      else state.reachable = false;
    }
  }

  /** Re-reads the queue; calls while one runs coalesce into one more. */
  function refresh(): Promise<void> {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = readQueue().finally(() => {
      refreshing = null;
      if (again) {
        again = false;
        void refresh();
      }
    });
    return refreshing;
  }

  function refreshSoon(): void {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      void refresh();
    }, 30);
  }

  async function readTelemetry(): Promise<void> {
    try {
      const t = await client.telemetry();
      state.telemetry = t;
      mergeWorkers(t);
    } catch {
      // telemetry is optional
    }
  }

  function mergeWorkers(t: Telemetry): void {
    const held = new Map(state.workers.map((w) => [w.id, w.jobs]));
    state.workers = t.workers.map((w) => ({ id: w.id, url: w.url, state: w.state, jobs: held.get(w.id) ?? [] }));
  }

  function forget(id: string): void {
    delete state.progress[id];
    const url = state.previews[id];
    if (url) URL.revokeObjectURL(url);
    delete state.previews[id];
  }

  /** screens that follow messages of their own (the Batches screen) */
  const listeners = new Set<(msg: EventMessage) => void>();

  function onMessage(msg: EventMessage): void {
    for (const l of listeners) l(msg);
    switch (msg.type) {
      case 'snapshot':
        state.paused = msg.paused;
        state.workers = msg.workers;
        for (const r of msg.running) if (r.progress) state.progress[r.job.prompt_id] = r.progress;
        void refresh();
        return;
      case 'progress': {
        if (msg.progress) state.progress[msg.job_id] = msg.progress;
        state.progressAt[msg.job_id] = Date.now();
        // A job waiting in its worker's own queue started: no queue event says so, its progress does.
        const card = state.cards.find((c) => c.prompt_id === msg.job_id);
        if (card?.status === 'waiting' && msg.progress && msg.progress.status !== 'queued') {
          card.status = 'running';
          refreshSoon();
        }
        return;
      }
      case 'telemetry': {
        const { type: _type, ...t } = msg;
        state.telemetry = t;
        mergeWorkers(t);
        return;
      }
      case 'queue.paused':
        state.paused = true;
        return;
      case 'queue.resumed':
        state.paused = false;
        return;
      case 'batch.progress':
      case 'batch.deleted':
        // A batch's figures: the queue's cards are told by the jobs' own events.
        return;
    }
    if (msg.type.startsWith('worker.') && 'worker' in msg) {
      state.workerEvents++;
      const w = state.workers.find((x) => x.id === msg.worker);
      if (w) w.state = msg.type.slice('worker.'.length);
      refreshSoon(); // the queue's cards and offline banners follow their worker
      return;
    }
    if ('job' in msg && msg.job && ['job.finished', 'job.failed', 'job.cancelled'].includes(msg.type)) {
      state.finished.push({ id: msg.job.prompt_id, status: msg.job.status, at: msg.at });
      if (state.finished.length > 5_000) state.finished.splice(0, 1_000);
      forget(msg.job.prompt_id);
    }
    refreshSoon();
  }

  function onPreview(frame: PreviewFrame): void {
    const old = state.previews[frame.jobId];
    state.previews[frame.jobId] = URL.createObjectURL(new Blob([frame.bytes as BlobPart], { type: frame.mime }));
    if (old) URL.revokeObjectURL(old);
  }

  const live = new LiveConnection(
    { url: () => client.wsUrl(), pollMs: state.pollMs },
    {
      message: onMessage,
      preview: onPreview,
      poll: async () => {
        await Promise.all([refresh(), readTelemetry()]);
      },
      state: (s, at) => {
        state.live = s;
        state.nextPollAt = at;
        if (s === 'live') state.reachable = true;
      },
    },
  );

  async function act<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      const out = await work();
      state.error = null;
      return out;
    } catch (err) {
      if (err instanceof ApiError) state.error = err.message;
      else {
        state.reachable = false;
        state.error = 'comfy-queue did not answer: nothing was changed.';
      }
      return undefined;
    } finally {
      if (state.live !== 'live') void refresh();
    }
  }

  const actions = {
    pause: () => act(async () => (state.paused = (await client.pause()).paused)),
    resume: () => act(async () => (state.paused = (await client.resume()).paused)),
    rename: (id: string, name: string | null) => act(() => client.rename(id, name)),
    setPriority: (id: string, priority: number) => act(() => client.setPriority(id, priority)),
    cancel: (id: string) => act(() => client.cancel(id)),
    /** Deletes or moves a selection of pending jobs; resolves how many changed. */
    bulk: (action: 'delete' | 'top' | 'bottom', sel: QueueSelection) => act(() => client.bulk(action, sel)),
    /** Moves a pending job one place up or down in run order. */
    moveBy: (id: string, by: -1 | 1) => act(() => client.moveBy(id, by)),
    remove: (ids: string[]) =>
      act(async () => {
        state.cards = state.cards.filter((c) => !ids.includes(c.prompt_id));
        return client.remove(ids);
      }),
    /** Moves a pending card before `beforeId` (null: to the end) and tells the server. */
    move: (id: string, beforeId: string | null, around?: JobCard[]) =>
      act(async () => {
        const pending = around ?? state.cards.filter((c) => c.status === 'queued');
        const plan = reorderPlan(pending, id, beforeId);
        if (!plan) return;
        if (!around)
          state.cards = [
            ...state.cards.filter((c) => c.status !== 'queued'),
            ...moveCard(pending, id, beforeId, plan.priority),
          ];
        if (plan.priority !== null) await client.setPriority(id, plan.priority);
        await client.reorder(plan.ids);
      }),
  };

  return {
    state,
    actions,
    refresh,
    /** Calls `fn` with every event message, after a `snapshot` on each (re)connection; returns the unsubscribe. */
    listen(fn: (msg: EventMessage) => void): () => void {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    start: () => live.start(),
    stop: () => {
      live.stop();
      if (refreshTimer) clearTimeout(refreshTimer);
      for (const id of Object.keys(state.previews)) forget(id);
    },
  };
}

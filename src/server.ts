/**
 * Puts comfy-queue together: store, engine, workers, HTTP API. Used by the
 * `serve` command and by tests that need a whole server in-process.
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import { DurationIndex } from './engine/duration-index.js';
import { Engine } from './engine/engine.js';
import { MemoryEventBus } from './engine/events.js';
import { ProgressBook } from './engine/progress-book.js';
import { NO_RETENTION, Retention, type RetentionLimits } from './engine/retention.js';
import { INSTANCE_KEY } from './engine/settings.js';
import { ThumbnailQueue } from './engine/thumbnail-queue.js';
import { shrinkToPng } from './media/thumbnail.js';
import { startSimulator } from './sim/index.js';
import { acquireDataLock, type DataLock } from './store/data-lock.js';
import type { JobStore } from './store/job-store.js';
import { openStore } from './store/open-store.js';
import { Telemetry } from './telemetry/telemetry.js';
import { WorkerDriver } from './workers/driver.js';
import { IncompleteMarkers } from './workers/incomplete-marker.js';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  comfyUrls: string[];
  /** simulated ComfyUI workers started inside the process */
  simulate: number;
  simStepMs: number;
  token: string | null;
  /** jobs each worker holds at once (1 = strictly one at a time) */
  workerCapacity: number;
  offlineTimeoutMs: number;
  pollMs: number;
  leaseMs: number;
  maxAttempts: number;
  synchronous: 'FULL' | 'NORMAL';
  /** the output folder of each --comfy worker, in order ("" = not reachable): for the `.incomplete` markers */
  comfyOutputDirs: string[];
  /** history kept: --keep-jobs, --keep-days, --keep-thumbs-mb (everything by default) */
  retention: RetentionLimits;
  /** origins whose pages may call comfy-queue (CORS), e.g. a ComfyUI opened directly */
  allowOrigins: string[];
}

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 8189,
  dataDir: './data',
  comfyUrls: ['http://127.0.0.1:8188'],
  simulate: 0,
  simStepMs: 50,
  token: null,
  workerCapacity: 2,
  offlineTimeoutMs: 60_000,
  pollMs: 2_000,
  leaseMs: 60_000,
  maxAttempts: 5,
  synchronous: 'FULL',
  comfyOutputDirs: [],
  retention: NO_RETENTION,
  allowOrigins: [],
};

export interface RunningServer {
  url: string;
  dbFile: string;
  engine: Engine;
  store: JobStore;
  app: FastifyInstance;
  workers: WorkerDriver[];
  /** makes history thumbnails as jobs finish */
  thumbnails: ThumbnailQueue;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  // Before the database opens: a second server on the same folder would run the same jobs.
  const lock = acquireDataLock(dataDir);
  try {
    return await startLocked(config, dataDir, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startLocked(config: ServerConfig, dataDir: string, lock: DataLock): Promise<RunningServer> {
  const dbFile = join(dataDir, 'comfy-queue.sqlite3');
  const store = await openStore({ kind: 'sqlite', file: dbFile, synchronous: config.synchronous });
  let instance = await store.getSetting(INSTANCE_KEY);
  if (!instance) {
    instance = randomUUID();
    await store.setSetting(INSTANCE_KEY, instance);
  }

  const sims = await Promise.all(
    Array.from({ length: config.simulate }, () => startSimulator({ port: 0, stepMs: config.simStepMs })),
  );
  const urls = config.simulate > 0 ? sims.map((s) => s.url) : config.comfyUrls;

  const bus = new MemoryEventBus();
  const engine = new Engine(store, bus, {
    now: Date.now,
    newId: randomUUID,
    leaseMs: config.leaseMs,
    maxAttempts: config.maxAttempts,
  });
  const progress = new ProgressBook(engine, bus, Date.now);
  const workers = urls.map(
    (url, i) =>
      new WorkerDriver(`w${i + 1}`, url, `comfy-queue-${instance.slice(0, 8)}-w${i + 1}`, engine, {
        capacity: config.workerCapacity,
        offlineTimeoutMs: config.offlineTimeoutMs,
        pollMs: config.pollMs,
        now: Date.now,
      }),
  );
  const drivers = new Map(workers.map((w) => [w.id, w]));
  const fetchFile = async (worker: string, file: { filename: string; subfolder: string; type: string }) => {
    const driver = drivers.get(worker);
    if (!driver) throw new Error(`worker ${worker} is not configured`);
    return driver.client.view(file);
  };
  const thumbnails = new ThumbnailQueue(store, bus, {
    fetchFile,
    make: (bytes) => shrinkToPng(bytes),
    now: Date.now,
    concurrency: 1,
  });
  const retention = new Retention(store, bus, config.retention, Date.now);
  const telemetry = new Telemetry({ dataDir, workers: () => workers, now: Date.now });
  const outputDirs = new Map<string, string>();
  if (config.simulate === 0) {
    for (const [i, dir] of config.comfyOutputDirs.entries())
      if (dir) outputDirs.set(`w${i + 1}`, resolve(dir));
  }
  if (outputDirs.size > 0) new IncompleteMarkers(engine, outputDirs, Date.now);
  const durations = new DurationIndex(engine, progress, Date.now);
  await durations.warm(store);
  const app = await buildApp({
    engine,
    progress,
    token: config.token,
    allowOrigins: config.allowOrigins,
    telemetry,
    comfy: { workers },
    estimates: (running, pending) => durations.estimate(running, pending, [...engine.workers.values()]),
    history: { thumbnails, fetchFile },
  });
  for (const job of await store.listInProgress()) {
    progress.track({
      promptId: job.id,
      prompt: job.prompt,
      workflow: job.workflow,
      startedAt: job.startedAt ?? Date.now(),
      targets: job.targets,
    });
  }
  await engine.start(workers);
  retention.start();
  const address = await app.listen({ host: config.host, port: config.port });

  return {
    url: address.replace('[::1]', '127.0.0.1'),
    dbFile,
    engine,
    store,
    app,
    workers,
    thumbnails,
    async close() {
      await app.close();
      thumbnails.close();
      await retention.stop();
      await engine.stop();
      await store.close();
      await Promise.all(sims.map((s) => s.close()));
      lock.release();
    },
  };
}

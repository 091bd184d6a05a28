/**
 * Puts comfy-queue together: store, engine, workers, HTTP API. Used by the
 * `serve` command and by tests that need a whole server in-process.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { AgentHub } from './agents/server/agent-hub.js';
import { buildApp, DEFAULT_REQUEST_TIMEOUT_MS } from './api/app.js';
import type { BacklogLimits } from './api/backlog.js';
import { ClusterLink } from './cluster/cluster-link.js';
import { serverIdOf } from './cluster/server-id.js';
import { SharedEventBus } from './cluster/shared-events.js';
import { WorkerOwnership } from './cluster/worker-ownership.js';
import { ComfyClient } from './comfy/client.js';
import type { Job } from './domain/job.js';
import type { OutputFileRef } from './domain/thumbnail-source.js';
import { BatchService } from './engine/batches.js';
import { DurationIndex } from './engine/duration-index.js';
import { Engine } from './engine/engine.js';
import { type EventBus, MemoryEventBus } from './engine/events.js';
import { ProgressBook } from './engine/progress-book.js';
import { NO_RETENTION, Retention, type RetentionLimits } from './engine/retention.js';
import { INSTANCE_KEY, PAUSED_KEY } from './engine/settings.js';
import { ThumbnailQueue } from './engine/thumbnail-queue.js';
import { TrackerService } from './engine/tracker.js';
import { DEFAULT_HEALTH_RULES } from './farm/worker-health.js';
import { parseWorkerSpec } from './farm/worker-id.js';
import { applyRecord } from './farm/worker-mode.js';
import { WorkerRegistry } from './farm/worker-registry.js';
import { createLogger, errMessage, type Logger, type LogLevel } from './logging/logger.js';
import { shrinkToPng } from './media/thumbnail.js';
import { type CollectTarget, DEFAULT_COLLECT } from './outputs/collect-target.js';
import { RecentFiles } from './outputs/recent-files.js';
import { type CollectTuning, startCollection } from './outputs/start-collection.js';
import { startSimulator } from './sim/index.js';
import { acquireDataLock, type DataLock } from './store/data-lock.js';
import type { JobStore, WorkerRecord } from './store/job-store.js';
import { openStore } from './store/open-store.js';
import { redactUrl, splitSchema } from './store/postgres/connection.js';
import { DEFAULT_SCHEMA } from './store/postgres/postgres-store.js';
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
  /**
   * `small` keeps resident memory small: V8's garbage collector for the whole process (set by the
   * command before the server starts) collects and compacts more often, and each SQLite connection
   * keeps a 4 MB page cache instead of the driver's 16 MB. `fast` spends less CPU.
   */
  memory: 'small' | 'fast';
  /** how long a write waits for another process's lock on the database before answering STORE_BUSY, in ms */
  storeBusyMs: number;
  /** a PostgreSQL database (postgres://…, `?schema=NAME` optional) instead of SQLite in the data folder */
  db: string | null;
  /** connections to PostgreSQL at most */
  dbPoolSize: number;
  /**
   * With PostgreSQL, several servers share the database: each push worker is
   * driven by one of them, which renews its ownership within this many ms; a
   * server that stops renewing has its workers taken over after it.
   */
  workerLeaseMs: number;
  /** the output folder of each --comfy worker, in order ("" = not reachable): for the `.incomplete` markers */
  comfyOutputDirs: string[];
  /** history kept: --keep-jobs, --keep-days, --keep-thumbs-mb (everything by default) */
  retention: RetentionLimits;
  /** origins whose pages may call comfy-queue (CORS), e.g. a ComfyUI opened directly */
  allowOrigins: string[];
  logLevel: LogLevel;
  /** JSON log lines instead of readable text */
  logJson: boolean;
  /** where log lines go (default stdout); tests read the log from a stream */
  logDestination?: DestinationStream;
  /** a CA certificate (PEM) trusted for https:// workers, besides the system's and NODE_EXTRA_CA_CERTS */
  comfyCa: string | null;
  /** every HTTP call to a worker fails after this long without an answer */
  requestTimeoutMs: number;
  /** how often each worker is probed (GET /queue and a websocket ping) */
  healthIntervalMs: number;
  /** a probe not answered within this long is a miss */
  healthTimeoutMs: number;
  /** this many misses in a row and the worker is unresponsive (offline) */
  healthMisses: number;
  /** a pending job no worker can run (a custom node is missing) waits this long before it fails */
  missingNodeGraceMs: number;
  /** a job that failed because of its worker goes to another worker this many times (--max-retries) */
  maxRetries: number;
  /** a worker that failed 3 jobs in a row takes no work this long (--quarantine, in minutes) */
  quarantineMs: number;
  /**
   * a running job from which no websocket message came for this long is interrupted and fails as
   * `stalled`, a worker failure (--stall-timeout, in seconds; 0 = never)
   */
  stallTimeoutMs: number;
  /** how far a websocket client may fall behind before it loses previews, then its connection */
  wsBacklog?: BacklogLimits;
  /** Host names answered on a loopback bind besides the loopback ones (--allow-host) */
  allowHosts: string[];
  /** a request to comfy-queue must arrive whole (headers and body) within this many ms, else 408; 0 = no limit */
  incomingTimeoutMs: number;
  /** where completed jobs' output files are collected (--collect): a folder (default <data>/outputs), S3, or off */
  collect: CollectTarget;
  /** retry and sweep timings of the collection (tests) */
  collectTuning?: CollectTuning;
}

/**
 * SQLite's page cache per connection under `--memory small`, in KiB. The history benchmark at
 * 1,000,000 jobs gives the same figures with it as with the driver's 16,000 (the file's pages stay in
 * the system's cache); with 2,048 its slowest query took about 10 % longer.
 */
const SMALL_PAGE_CACHE_KIB = 4096;

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
  memory: 'small',
  storeBusyMs: 5_000,
  db: null,
  dbPoolSize: 10,
  workerLeaseMs: 30_000,
  comfyOutputDirs: [],
  retention: NO_RETENTION,
  allowOrigins: [],
  logLevel: 'info',
  logJson: false,
  comfyCa: null,
  requestTimeoutMs: 30_000,
  healthIntervalMs: 5_000,
  healthTimeoutMs: 10_000,
  healthMisses: 3,
  missingNodeGraceMs: 10 * 60_000,
  allowHosts: [],
  incomingTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  maxRetries: 2,
  quarantineMs: 15 * 60_000,
  stallTimeoutMs: 10 * 60_000,
  collect: DEFAULT_COLLECT,
};

export interface RunningServer {
  url: string;
  dbFile: string;
  engine: Engine;
  store: JobStore;
  app: FastifyInstance;
  workers: WorkerDriver[];
  /** remote agents: enrollment, their ports, the lease sweeper */
  agents: AgentHub;
  /** makes history thumbnails as jobs finish */
  thumbnails: ThumbnailQueue;
  log: Logger;
  close(): Promise<void>;
}

/** Finished jobs shown again after the link to the other servers came back. */
const CATCH_UP_FINISHED = 200;

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const log = createLogger({
    level: config.logLevel,
    json: config.logJson,
    destination: config.logDestination,
  });
  const dataDir = resolve(config.dataDir);
  // Before the database opens: a second server on the same folder would run the same jobs.
  const lock = acquireDataLock(dataDir);
  try {
    return await startLocked(config, dataDir, lock, log);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startLocked(
  config: ServerConfig,
  dataDir: string,
  lock: DataLock,
  log: Logger,
): Promise<RunningServer> {
  const dbFile = config.db ? redactUrl(config.db) : join(dataDir, 'comfy-queue.sqlite3');
  const store = await openStore(
    config.db
      ? {
          kind: 'postgres',
          url: config.db,
          poolSize: config.dbPoolSize,
          busyTimeoutMs: config.storeBusyMs,
          log: log.child({ component: 'store' }),
        }
      : {
          kind: 'sqlite',
          file: dbFile,
          synchronous: config.synchronous,
          busyTimeoutMs: config.storeBusyMs,
          ...(config.memory === 'small' ? { cacheKib: SMALL_PAGE_CACHE_KIB } : {}),
          log: log.child({ component: 'store' }),
        },
  );
  let instance = await store.getSetting(INSTANCE_KEY);
  if (!instance) {
    instance = randomUUID();
    await store.setSetting(INSTANCE_KEY, instance);
  }

  const sims = await Promise.all(
    Array.from({ length: config.simulate }, () => startSimulator({ port: 0, stepMs: config.simStepMs })),
  );
  // Simulated workers are the server's own, named in the order it made them; others by name or address.
  const specs =
    config.simulate > 0
      ? sims.map((s, i) => ({ id: `w${i + 1}`, url: s.url }))
      : config.comfyUrls.map((spec) => {
          const parsed = parseWorkerSpec(spec);
          if ('error' in parsed) throw new Error(`--comfy ${parsed.error}`);
          return parsed;
        });

  // With PostgreSQL the server is one of several (src/cluster): events and workers are shared.
  let link: ClusterLink | null = null;
  if (config.db) {
    const { url, schema } = splitSchema(config.db);
    link = new ClusterLink({
      url,
      schema: schema ?? DEFAULT_SCHEMA,
      serverId: serverIdOf(dataDir),
      log: log.child({ component: 'cluster' }),
      now: Date.now,
    });
    try {
      await link.open();
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  const shared = link
    ? new SharedEventBus(link, store, { log: log.child({ component: 'cluster' }), now: Date.now })
    : null;
  const bus = shared ?? new MemoryEventBus(log.child({ component: 'events' }));
  /** this server's own events: for what acts on a job's end (thumbnails, collection, markers) */
  const ownBus: EventBus = shared ? shared.ownEvents : bus;
  const registry = new WorkerRegistry(store, Date.now, {
    ...DEFAULT_HEALTH_RULES,
    quarantineMs: config.quarantineMs,
  });
  const engine = new Engine(store, bus, {
    now: Date.now,
    newId: randomUUID,
    leaseMs: config.leaseMs,
    maxAttempts: config.maxAttempts,
    maxRetries: config.maxRetries,
    registry,
    ...(shared ? { shared: { cancelElsewhere: (job) => shared.tell({ t: 'cancel', id: job.id }) } } : {}),
    log: log.child({ component: 'engine' }),
  });
  const progress = new ProgressBook(engine, bus, Date.now);
  const batches = new BatchService(engine, {
    now: Date.now,
    randomBytes,
    newId: randomUUID,
    collecting: config.collect.kind !== 'off',
    log: log.child({ component: 'batches' }),
  });
  const trackerFiles = join(dataDir, 'outputs');
  const tracker = new TrackerService(engine, batches, {
    now: Date.now,
    leaseMs: config.leaseMs,
    filesDir: trackerFiles,
    log: log.child({ component: 'tracker' }),
  });
  const driverOf = (rec: WorkerRecord): WorkerDriver => {
    const d = new WorkerDriver(
      rec.id,
      rec.url ?? '',
      `comfy-queue-${instance.slice(0, 8)}-${rec.id}`,
      engine,
      {
        capacity: rec.capacity,
        offlineTimeoutMs: config.offlineTimeoutMs,
        pollMs: config.pollMs,
        now: Date.now,
        requestTimeoutMs: config.requestTimeoutMs,
        healthIntervalMs: config.healthIntervalMs,
        healthTimeoutMs: config.healthTimeoutMs,
        healthMisses: config.healthMisses,
        stallTimeoutMs: config.stallTimeoutMs,
        ca: config.comfyCa,
        log: log.child({ component: 'worker', worker: rec.id }),
      },
    );
    d.draining = rec.mode !== 'active';
    return d;
  };
  await registry.load();
  // Workers of the command line are registered (kept with their tags and modes); those added at run
  // time through the API come back too. The array is shared: adding or removing a worker edits it.
  for (const s of specs) {
    const known = registry.get(s.id);
    await registry.upsert(s.id, {
      kind: 'push',
      source: 'flag',
      url: s.url,
      capacity: known?.capacity ?? config.workerCapacity,
    });
  }
  const workers: WorkerDriver[] = [];
  // With several servers, the ownership passes (below) choose which push workers this one drives.
  for (const rec of link ? [] : registry.list()) {
    if (rec.kind !== 'push' || !rec.url) continue;
    // A worker of an earlier command line that this one no longer names is not driven (its record stays).
    if (rec.source === 'flag' && !specs.some((s) => s.id === rec.id)) continue;
    if (config.simulate > 0 && !specs.some((s) => s.id === rec.id)) continue;
    workers.push(driverOf(rec));
  }
  const drivers = new Map(workers.map((w) => [w.id, w]));
  /** Makes the driver of a push worker and adds it to the shared list. */
  const drive = (rec: WorkerRecord): WorkerDriver => {
    const d = driverOf(rec);
    workers.push(d);
    drivers.set(rec.id, d);
    return d;
  };
  const undrive = (id: string): void => {
    const at = workers.findIndex((w) => w.id === id);
    if (at >= 0) workers.splice(at, 1);
    drivers.delete(id);
  };
  const preferred = new Set(specs.map((s) => s.id));
  /** what the other servers last said of the workers they drive (src/cluster) */
  const statesElsewhere = new Map<string, { state: string; at: number }>();
  bus.subscribe((e) => {
    if (e.type !== 'worker.state') return;
    statesElsewhere.set(e.worker, { state: e.state, at: Date.now() });
    // The workers this server drives: their state is recorded for the servers that start later.
    if (link && drivers.has(e.worker))
      link.setState(e.worker, e.state).catch((err: unknown) => {
        log.warn({ err: errMessage(err), worker: e.worker }, `recording the state of ${e.worker} failed`);
      });
  });
  let ownership: WorkerOwnership | null = null;
  let listening: string | null = null;
  // Remote agents connect in (src/agents): a port each, registered ones from the start.
  const agents = new AgentHub(engine, {
    token: config.token,
    leaseMs: config.leaseMs,
    capacity: config.workerCapacity,
    // A held long-poll GET must end well before the server's own request timeout would cut it.
    pollHoldMs: config.incomingTimeoutMs > 0 ? Math.floor(config.incomingTimeoutMs / 2) : undefined,
    now: Date.now,
    log: log.child({ component: 'agents' }),
  });
  const fetchFile = async (worker: string, file: { filename: string; subfolder: string; type: string }) => {
    const fromAgent = agents.fetchFile(worker, file);
    if (fromAgent) return fromAgent;
    const driver = drivers.get(worker);
    if (driver) return driver.client.view(file);
    // Another server drives it: its ComfyUI answers this one too.
    const rec = link ? registry.get(worker) : undefined;
    if (!rec?.url) throw new Error(`worker ${worker} is not configured`);
    const client = new ComfyClient(rec.url, { timeoutMs: config.requestTimeoutMs, ca: config.comfyCa });
    try {
      return await client.view(file);
    } finally {
      client.close();
    }
  };
  // The collector and the thumbnail queue read each finished job's image: one fetch serves both.
  const recentFiles = new RecentFiles(fetchFile, {
    readers: config.collect.kind === 'off' ? 1 : 2,
    now: Date.now,
  });
  const jobFile = (worker: string, file: OutputFileRef, jobId: string) =>
    recentFiles.get(jobId, worker, file);
  const thumbnails = new ThumbnailQueue(store, ownBus, {
    fetchFile: jobFile,
    make: (bytes) => shrinkToPng(bytes),
    now: Date.now,
    concurrency: 1,
    log: log.child({ component: 'thumbnails' }),
  });
  const retention = new Retention(
    store,
    bus,
    config.retention,
    Date.now,
    log.child({ component: 'retention' }),
  );
  const telemetry = new Telemetry({
    dataDir,
    workers: () => [...workers, ...agents.ports.values()],
    now: Date.now,
    log: log.child({ component: 'telemetry' }),
  });
  const outputDirs = new Map<string, string>();
  if (config.simulate === 0) {
    for (const [i, dir] of config.comfyOutputDirs.entries())
      if (dir && specs[i]) outputDirs.set(specs[i].id, resolve(dir));
  }
  if (outputDirs.size > 0)
    new IncompleteMarkers(engine, outputDirs, Date.now, log.child({ component: 'incomplete-marker' }));
  // Before the engine starts: no job completes unheard, and what completed before a crash is collected.
  const collection = await startCollection({
    store,
    bus: ownBus,
    dataDir,
    target: config.collect,
    fetchFile: jobFile,
    knowsWorker: (id) =>
      drivers.has(id) || agents.ports.has(id) || (link !== null && registry.get(id) !== undefined),
    keyJob: (job) => ({
      id: job.id,
      createdAt: job.createdAt,
      batchName: job.batch?.name ?? null,
      index: job.batch?.index ?? null,
    }),
    now: Date.now,
    log: log.child({ component: 'collect' }),
    tuning: config.collectTuning,
    sweepGraceMs: link ? 2 * config.workerLeaseMs : 0,
  });
  const durations = new DurationIndex(engine, progress, Date.now);
  await durations.warm(store);
  const app = await buildApp({
    engine,
    progress,
    token: config.token,
    allowOrigins: config.allowOrigins,
    bindHost: config.host,
    allowHosts: config.allowHosts,
    requestTimeoutMs: config.incomingTimeoutMs,
    telemetry,
    comfy: {
      workers,
      missingNodeGraceMs: config.missingNodeGraceMs,
      wsBacklog: config.wsBacklog,
      log,
      agentFiles: (worker, file) => agents.fetchFile(worker, file),
      agents: () => agents.ports.values(),
    },
    backlog: config.wsBacklog,
    log,
    estimates: (running, pending) => durations.estimate(running, pending, [...engine.workers.values()]),
    history: { thumbnails, fetchFile },
    batches: {
      batches,
      tracker,
      filesDir: trackerFiles,
      now: Date.now,
      collected: (job) => collection.outputs.collected(job),
    },
    outputs: collection.outputs,
    farm: {
      now: Date.now,
      addPushWorker: async (rec) => {
        if (ownership) {
          // Added here: driven from here, once its ownership row is taken.
          preferred.add(rec.id);
          await ownership.tick();
          return;
        }
        engine.addWorker(drive(rec));
      },
      ...(shared && link
        ? {
            changed: () => shared.tell({ t: 'workers' }),
            elsewhere: (id: string) => {
              const said = statesElsewhere.get(id);
              if (registry.get(id)?.kind !== 'push')
                return said ? { connection: said.state, server: null } : null;
              // A push worker: as its owner recorded it, or said since; none drives it: offline.
              const owner = ownership?.ownerOf(id) ?? null;
              if (!owner) return null;
              const state = said && said.at >= owner.at ? said.state : owner.state;
              return { connection: state, server: owner.name };
            },
            servers: async () => {
              const owners = await link.owners();
              const now = Date.now();
              return (await link.liveServers(config.workerLeaseMs)).map((x) => ({
                id: x.id,
                name: x.name,
                url: x.url,
                seen_at: x.seenAt,
                workers: owners
                  .filter((o) => o.owner === x.id && o.expiresAt >= now)
                  .map((o) => o.workerId)
                  .sort(),
              }));
            },
          }
        : {}),
      dropPushWorker: async (id) => {
        undrive(id);
        await agents.forget(id);
      },
    },
  });
  await agents.register(app);
  for (const job of await store.listInProgress()) progress.track(trackOf(job));
  await engine.start([...workers, ...agents.portsAtStart()]);
  if (shared && link) {
    ownership = new WorkerOwnership(
      link,
      {
        registered: async () => {
          await registry.reload();
          return registry.list();
        },
        adopt: async (rec) => {
          const d = drive(rec);
          for (const job of await store.listInProgress())
            if (job.worker === rec.id) progress.track(trackOf(job));
          await engine.adoptWorker(d);
        },
        release: async (id) => {
          await engine.releaseWorker(id);
          undrive(id);
        },
        remove: async (id) => {
          if (engine.workers.has(id)) await engine.removeWorker(id);
          undrive(id);
        },
      },
      {
        leaseMs: config.workerLeaseMs,
        preferred,
        name: hostname(),
        url: () => listening,
        now: Date.now,
        log: log.child({ component: 'cluster' }),
      },
    );
    const owned = ownership;
    shared.attach(engine, {
      cancel: (id) => engine.cancelHere(id),
      workersChanged: async () => {
        await registry.reload();
        for (const rec of registry.list()) {
          const port = engine.workers.get(rec.id);
          if (port) await applyRecord(port, rec, { capacity: rec.kind === 'push' });
        }
        await owned.tick();
        engine.pump();
      },
      resumed: () => catchUp(engine, shared, store),
    });
  }
  tracker.start();
  agents.start();
  retention.start();
  const address = await app.listen({ host: config.host, port: config.port });
  const url = address.replace('[::1]', '127.0.0.1');
  listening = url;
  await ownership?.start();
  // Worker state changes are logged by each driver as they happen.
  ownBus.subscribe((e) => {
    if (e.type === 'job.released') log.info({ job: e.job.id, reason: e.reason }, 'job back to pending');
    else if (e.type === 'job.finished' && e.job.status === 'failed')
      log.info({ job: e.job.id, error: e.job.error?.type }, `job failed: ${e.job.error?.message ?? ''}`);
  });
  log.debug({ dataDir }, 'server started');

  return {
    url,
    dbFile,
    engine,
    store,
    app,
    workers,
    agents,
    thumbnails,
    log,
    async close() {
      log.debug('closing');
      try {
        await app.close();
        thumbnails.close();
        await retention.stop();
        tracker.stop();
        await agents.stop();
        await ownership?.halt();
        await engine.stop();
        // The workers are stopped: another server may drive them from now on.
        await ownership?.handOver();
        await collection.close();
        await shared?.flushed();
        await link?.close();
        await store.close();
        await Promise.all(sims.map((s) => s.close()));
      } finally {
        // Even when closing failed half-way: the process ends next, and the folder must not stay locked.
        lock.release();
      }
    },
  };
}

/** What the progress book needs of a job that runs already (adopted, not started here). */
function trackOf(job: Job): Parameters<ProgressBook['track']>[0] {
  return {
    promptId: job.id,
    prompt: job.prompt,
    workflow: job.workflow,
    startedAt: job.startedAt ?? Date.now(),
    targets: job.targets,
  };
}

/** Catch-up after this server's link to the others came back: what changed meanwhile is shown again. */
async function catchUp(engine: Engine, shared: SharedEventBus, store: JobStore): Promise<void> {
  const paused = (await store.getSetting(PAUSED_KEY)) === 'true';
  shared.replay({ type: paused ? 'queue.paused' : 'queue.resumed' });
  shared.replay({ type: 'queue.reordered', ids: [] });
  for (const job of await store.listInProgress()) shared.replay({ type: 'job.updated', job });
  const ended = await store.listJobs({
    statuses: ['completed', 'failed', 'cancelled'],
    sort: 'ended_at',
    order: 'desc',
    limit: CATCH_UP_FINISHED,
  });
  for (const item of ended.jobs.reverse()) {
    const job = await store.get(item.id);
    if (job) shared.replay({ type: 'job.finished', job });
  }
  engine.pump();
}

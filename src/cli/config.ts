/**
 * The command line and the environment, resolved and checked once. Nothing
 * else in comfy-queue reads process.env.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isLoopbackName, normaliseAllowedHost } from '../api/request-origin.js';
import { parseWorkerSpec } from '../farm/worker-id.js';
import { LOG_LEVELS, type LogLevel } from '../logging/logger.js';
import { parseCollect } from '../outputs/collect-target.js';
import { DEFAULT_CONFIG, type ServerConfig } from '../server.js';
import { isPostgresUrl } from '../store/open-store.js';
import { joinNegativeValues } from './args.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variable of each `serve` flag. */
export const SERVE_ENV = {
  host: 'COMFY_QUEUE_HOST',
  port: 'COMFY_QUEUE_PORT',
  data: 'COMFY_QUEUE_DATA',
  comfy: 'COMFY_QUEUE_COMFY',
  simulate: 'COMFY_QUEUE_SIMULATE',
  'sim-step-ms': 'COMFY_QUEUE_SIM_STEP_MS',
  token: 'COMFY_QUEUE_TOKEN',
  'worker-capacity': 'COMFY_QUEUE_WORKER_CAPACITY',
  durability: 'COMFY_QUEUE_DURABILITY',
  memory: 'COMFY_QUEUE_MEMORY',
  'store-busy-ms': 'COMFY_QUEUE_STORE_BUSY_MS',
  'comfy-output': 'COMFY_QUEUE_COMFY_OUTPUT',
  'allow-origin': 'COMFY_QUEUE_ALLOW_ORIGIN',
  'allow-host': 'COMFY_QUEUE_ALLOW_HOST',
  'keep-jobs': 'COMFY_QUEUE_KEEP_JOBS',
  'keep-days': 'COMFY_QUEUE_KEEP_DAYS',
  'keep-thumbs-mb': 'COMFY_QUEUE_KEEP_THUMBS_MB',
  'log-level': 'COMFY_QUEUE_LOG_LEVEL',
  'log-json': 'COMFY_QUEUE_LOG_JSON',
  'comfy-ca': 'COMFY_QUEUE_COMFY_CA',
  'missing-node-grace-s': 'COMFY_QUEUE_MISSING_NODE_GRACE_S',
  'max-retries': 'COMFY_QUEUE_MAX_RETRIES',
  'stall-timeout': 'COMFY_QUEUE_STALL_TIMEOUT',
  quarantine: 'COMFY_QUEUE_QUARANTINE',
  collect: 'COMFY_QUEUE_COLLECT',
  lease: 'COMFY_QUEUE_LEASE',
  db: 'COMFY_QUEUE_DB',
  'db-pool': 'COMFY_QUEUE_DB_POOL',
  'worker-lease': 'COMFY_QUEUE_WORKER_LEASE',
} as const;

export function resolveServeConfig(argv: string[], env: NodeJS.ProcessEnv): ServerConfig {
  const { values } = parseArgs({
    args: joinNegativeValues(argv),
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      comfy: { type: 'string', multiple: true },
      simulate: { type: 'string' },
      'sim-step-ms': { type: 'string' },
      token: { type: 'string' },
      'worker-capacity': { type: 'string' },
      durability: { type: 'string' },
      memory: { type: 'string' },
      'store-busy-ms': { type: 'string' },
      'comfy-output': { type: 'string', multiple: true },
      'allow-origin': { type: 'string', multiple: true },
      'allow-host': { type: 'string', multiple: true },
      'keep-jobs': { type: 'string' },
      'keep-days': { type: 'string' },
      'keep-thumbs-mb': { type: 'string' },
      'log-level': { type: 'string' },
      'log-json': { type: 'boolean' },
      'comfy-ca': { type: 'string' },
      'missing-node-grace-s': { type: 'string' },
      'max-retries': { type: 'string' },
      'stall-timeout': { type: 'string' },
      quarantine: { type: 'string' },
      collect: { type: 'string' },
      lease: { type: 'string' },
      db: { type: 'string' },
      'db-pool': { type: 'string' },
      'worker-lease': { type: 'string' },
    },
  });
  const pick = (k: Exclude<keyof typeof SERVE_ENV, 'log-json'>): string | undefined => {
    const v = values[k];
    if (typeof v === 'string') return v;
    const e = env[SERVE_ENV[k]];
    return e === undefined || e === '' ? undefined : e;
  };
  const givenUrls =
    values.comfy ?? (env.COMFY_QUEUE_COMFY ? env.COMFY_QUEUE_COMFY.split(',') : DEFAULT_CONFIG.comfyUrls);
  // `--comfy none`: no ComfyUI driven from here (a farm of remote agents only).
  const comfyUrls = givenUrls.length === 1 && givenUrls[0] === 'none' ? [] : givenUrls;
  const ids = new Set<string>();
  for (const u of comfyUrls) {
    const spec = parseWorkerSpec(u);
    if ('error' in spec) throw new ConfigError(`--comfy ${spec.error}`);
    if (ids.has(spec.id))
      throw new ConfigError(`--comfy ${u}: a second worker named ${spec.id}; name them apart with NAME=URL`);
    ids.add(spec.id);
  }
  // One output folder per --comfy, in order; "" or "-" for a worker whose folder comfy-queue cannot reach.
  const comfyOutputDirs = (
    values['comfy-output'] ??
    (env[SERVE_ENV['comfy-output']] ? env[SERVE_ENV['comfy-output']]!.split(',') : [])
  ).map((d) => (d === '-' ? '' : d));
  if (comfyOutputDirs.length > comfyUrls.length) {
    throw new ConfigError(
      `--comfy-output is given ${comfyOutputDirs.length} times for ${comfyUrls.length} --comfy worker(s): give one per --comfy, in order`,
    );
  }
  const allowOrigins =
    values['allow-origin'] ?? (env.COMFY_QUEUE_ALLOW_ORIGIN ? env.COMFY_QUEUE_ALLOW_ORIGIN.split(',') : []);
  for (const o of allowOrigins) {
    let u: URL | null = null;
    try {
      u = new URL(o);
    } catch {
      // not a URL: refused just below with a message naming the flag
    }
    if (!u || u.origin !== o.replace(/\/+$/, '')) {
      throw new ConfigError(
        `--allow-origin ${o}: give an origin like http://127.0.0.1:8188 (scheme, host, port; no path)`,
      );
    }
  }
  const allowHosts = (
    values['allow-host'] ?? (env.COMFY_QUEUE_ALLOW_HOST ? env.COMFY_QUEUE_ALLOW_HOST.split(',') : [])
  ).map((h) => {
    const n = normaliseAllowedHost(h);
    if (!n) {
      throw new ConfigError(
        `--allow-host ${h}: give a host name as browsers send it, e.g. comfy.lan or comfy.lan:8189 (no scheme, no path)`,
      );
    }
    return n;
  });
  const host = pick('host') ?? DEFAULT_CONFIG.host;
  const token = pick('token') ?? null;
  if (!isLoopback(host) && !token) {
    throw new ConfigError(
      `--host ${host} makes comfy-queue reachable from other machines: set a token with --token or ${SERVE_ENV.token}.`,
    );
  }
  const durability = pick('durability') ?? 'full';
  if (durability !== 'full' && durability !== 'normal') {
    throw new ConfigError(
      `--durability must be "full" (survives power loss) or "normal" (survives crashes), not "${durability}"`,
    );
  }
  const memory = pick('memory') ?? DEFAULT_CONFIG.memory;
  if (memory !== 'small' && memory !== 'fast') {
    throw new ConfigError(
      `--memory must be "small" (less resident memory) or "fast" (less CPU per job), not "${memory}"`,
    );
  }
  const logLevel = (pick('log-level') ?? DEFAULT_CONFIG.logLevel).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const caFile = pick('comfy-ca');
  let comfyCa: string | null = null;
  if (caFile) {
    try {
      comfyCa = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--comfy-ca ${caFile}: cannot be read (${(err as Error).message})`);
    }
    if (!comfyCa.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(`--comfy-ca ${caFile}: not a PEM certificate file`);
    }
  }
  // --collect: a folder (default <data>/outputs), s3://bucket/prefix with the AWS_* variables, or off.
  const collect = parseCollect(pick('collect'), env);
  if (!collect.ok) throw new ConfigError(collect.error);
  const db = pick('db') ?? null;
  if (db !== null) checkDbUrl(db);
  return {
    ...DEFAULT_CONFIG,
    collect: collect.target,
    db,
    dbPoolSize: int(pick('db-pool'), DEFAULT_CONFIG.dbPoolSize, 'db-pool', 2, 1000),
    workerLeaseMs:
      int(pick('worker-lease'), DEFAULT_CONFIG.workerLeaseMs / 1000, 'worker-lease', 1, 3600) * 1000,
    logLevel: logLevel as LogLevel,
    logJson: values['log-json'] ?? envFlag(env[SERVE_ENV['log-json']], 'log-json'),
    comfyCa,
    missingNodeGraceMs:
      int(
        pick('missing-node-grace-s'),
        DEFAULT_CONFIG.missingNodeGraceMs / 1000,
        'missing-node-grace-s',
        0,
        30 * 24 * 3600,
      ) * 1000,
    maxRetries: int(pick('max-retries'), DEFAULT_CONFIG.maxRetries, 'max-retries', 0, 100),
    stallTimeoutMs:
      int(pick('stall-timeout'), DEFAULT_CONFIG.stallTimeoutMs / 1000, 'stall-timeout', 0, 7 * 24 * 3600) *
      1000,
    leaseMs: int(pick('lease'), DEFAULT_CONFIG.leaseMs / 1000, 'lease', 1, 24 * 3600) * 1000,
    quarantineMs:
      int(pick('quarantine'), DEFAULT_CONFIG.quarantineMs / 60_000, 'quarantine', 0, 7 * 24 * 60) * 60_000,
    synchronous: durability === 'full' ? 'FULL' : 'NORMAL',
    memory,
    storeBusyMs: int(pick('store-busy-ms'), DEFAULT_CONFIG.storeBusyMs, 'store-busy-ms', 0, 600_000),
    host,
    port: int(pick('port'), DEFAULT_CONFIG.port, 'port', 0, 65535),
    dataDir: pick('data') ?? DEFAULT_CONFIG.dataDir,
    comfyUrls: comfyUrls.map((u) => u.replace(/\/+$/, '')),
    simulate: int(pick('simulate'), 0, 'simulate', 0, 64),
    simStepMs: int(pick('sim-step-ms'), DEFAULT_CONFIG.simStepMs, 'sim-step-ms', 0, 600_000),
    token,
    workerCapacity: int(pick('worker-capacity'), DEFAULT_CONFIG.workerCapacity, 'worker-capacity', 1, 16),
    comfyOutputDirs,
    allowOrigins: allowOrigins.map((o) => o.replace(/\/+$/, '')),
    allowHosts,
    retention: {
      keepJobs: optionalInt(pick('keep-jobs'), 'keep-jobs', 0, 1_000_000_000),
      keepDays: optionalInt(pick('keep-days'), 'keep-days', 1, 100_000),
      keepThumbsMb: optionalInt(pick('keep-thumbs-mb'), 'keep-thumbs-mb', 0, 100_000_000),
    },
  };
}

/** --db takes a PostgreSQL URL (SQLite is the default, in --data). */
function checkDbUrl(db: string): void {
  if (!isPostgresUrl(db)) {
    throw new ConfigError(
      `--db takes a PostgreSQL URL like postgres://user@dbhost:5432/comfyqueue (got "${db.slice(0, 40)}"); without --db the database is SQLite, in the --data folder`,
    );
  }
}

/** The database of `comfy-queue migrate`: --db (a PostgreSQL URL) or the SQLite file in --data. */
export function resolveMigrateConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { db: string | null; dataDir: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { db: { type: 'string' }, data: { type: 'string' } },
  });
  const db = values.db ?? (env[SERVE_ENV.db] || null);
  if (db !== null) checkDbUrl(db);
  return { db, dataDir: values.data ?? (env[SERVE_ENV.data] || DEFAULT_CONFIG.dataDir) };
}

/** A yes/no environment variable: 1/true/yes or 0/false/no (or unset). */
function envFlag(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === '') return false;
  const v = raw.toLowerCase();
  if (v === '1' || v === 'true' || v === 'yes') return true;
  if (v === '0' || v === 'false' || v === 'no') return false;
  throw new ConfigError(`--${name} (environment) must be 1/true/yes or 0/false/no (got "${raw}")`);
}

/** A limit that is off unless given. */
function optionalInt(raw: string | undefined, name: string, min: number, max: number): number | null {
  return raw === undefined ? null : int(raw, 0, name, min, max);
}

export interface SimConfig {
  host: string;
  port: number;
  stepMs: number;
  failRate: number;
  /** serve a stand-in web frontend at / */
  webUi: boolean;
  /** write answers as aiohttp does: headers, a pause, then the body in pieces */
  aiohttpWire: boolean;
}

export function resolveSimConfig(argv: string[]): SimConfig {
  const { values } = parseArgs({
    args: joinNegativeValues(argv),
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'step-ms': { type: 'string' },
      'fail-rate': { type: 'string' },
      'web-ui': { type: 'boolean' },
      'aiohttp-wire': { type: 'boolean' },
    },
  });
  const failRate = values['fail-rate'] === undefined ? 0 : Number(values['fail-rate']);
  if (!(failRate >= 0 && failRate <= 1)) throw new ConfigError('--fail-rate must be a number from 0 to 1');
  return {
    host: values.host ?? '127.0.0.1',
    port: int(values.port, 8188, 'port', 0, 65535),
    stepMs: int(values['step-ms'], 50, 'step-ms', 0, 600_000),
    failRate,
    webUi: values['web-ui'] ?? false,
    aiohttpWire: values['aiohttp-wire'] ?? false,
  };
}

export function isLoopback(host: string): boolean {
  return isLoopbackName(host);
}

function int(raw: string | undefined, dflt: number, name: string, min: number, max: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}

/** Environment variable of each `agent` flag. */
export const AGENT_ENV = {
  server: 'COMFY_QUEUE_SERVER',
  enroll: 'COMFY_QUEUE_ENROLL',
  comfy: 'COMFY_QUEUE_AGENT_COMFY',
  name: 'COMFY_QUEUE_AGENT_NAME',
  tags: 'COMFY_QUEUE_AGENT_TAGS',
  capacity: 'COMFY_QUEUE_AGENT_CAPACITY',
  data: 'COMFY_QUEUE_AGENT_DATA',
  transport: 'COMFY_QUEUE_AGENT_TRANSPORT',
  'log-level': 'COMFY_QUEUE_LOG_LEVEL',
} as const;

export interface AgentCliConfig {
  server: string;
  enroll: string | null;
  comfy: string;
  name: string;
  tags: string[];
  capacity: number;
  dataDir: string;
  /** the websocket, HTTP long-poll, or the websocket with long-poll as the fallback */
  transport: 'auto' | 'ws' | 'http';
  logLevel: LogLevel;
  logJson: boolean;
}

/** The agent's name by default: the host name, made a valid worker name. */
export function defaultAgentName(host: string): string {
  const name = host
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return name || 'agent';
}

export function resolveAgentConfig(argv: string[], env: NodeJS.ProcessEnv, hostName: string): AgentCliConfig {
  const { values } = parseArgs({
    args: joinNegativeValues(argv),
    strict: true,
    options: {
      server: { type: 'string' },
      enroll: { type: 'string' },
      comfy: { type: 'string' },
      name: { type: 'string' },
      tags: { type: 'string' },
      capacity: { type: 'string' },
      data: { type: 'string' },
      transport: { type: 'string' },
      'log-level': { type: 'string' },
      'log-json': { type: 'boolean' },
    },
  });
  const pick = (k: keyof typeof AGENT_ENV): string | undefined => {
    const v = values[k];
    if (typeof v === 'string') return v;
    const e = env[AGENT_ENV[k]];
    return e === undefined || e === '' ? undefined : e;
  };
  const server = pick('server');
  if (!server) throw new ConfigError(`--server URL is required: the comfy-queue server to work for`);
  for (const [flag, url] of [
    ['server', server],
    ['comfy', pick('comfy') ?? 'http://127.0.0.1:8188'],
  ] as const) {
    let u: URL | null = null;
    try {
      u = new URL(url);
    } catch {
      // refused below
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
      throw new ConfigError(`--${flag} ${url}: give an http:// or https:// address`);
  }
  const name = pick('name') ?? defaultAgentName(hostName);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    throw new ConfigError(
      `--name ${name}: 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  const tags = (pick('tags') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of tags)
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/.test(t))
      throw new ConfigError(`--tags ${t}: a tag is letters, digits, ".", "_", ":" or "-"`);
  const transport = (pick('transport') ?? 'auto').toLowerCase();
  if (transport !== 'auto' && transport !== 'ws' && transport !== 'http')
    throw new ConfigError(`--transport must be auto, ws or http (got "${transport}")`);
  const logLevel = (pick('log-level') ?? DEFAULT_CONFIG.logLevel).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return {
    server: server.replace(/\/+$/, ''),
    enroll: pick('enroll') ?? null,
    comfy: (pick('comfy') ?? 'http://127.0.0.1:8188').replace(/\/+$/, ''),
    name,
    tags,
    capacity: int(pick('capacity'), 2, 'capacity', 1, 16),
    dataDir: pick('data') ?? './agent-data',
    transport,
    logLevel: logLevel as LogLevel,
    logJson: values['log-json'] ?? false,
  };
}

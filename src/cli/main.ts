#!/usr/bin/env node
/**
 * The `comfy-queue` command. Only what every command needs is imported here:
 * the server, the simulator, the agent and the stores are loaded by the
 * command that runs them, so that a client command (`comfy-queue ls`) starts
 * in a fraction of the time.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { DataFolderError } from '../store/data-lock.js';
import { ApiError, DEFAULT_SERVER, UnreachableError } from './api-client.js';
import { plainParseError, UsageError } from './args.js';
import { CLIENT_COMMANDS, clientOverview, wantsHelp } from './commands/index.js';
import { JobRefError } from './job-ref.js';

/** Errors of modules loaded on demand, known by name: each is told in one line, without a stack. */
const ONE_LINE_ERRORS = new Set(['DatabaseOpenError', 'AgentRefusedError']);

const SERVE_USAGE = `Usage:
  comfy-queue serve [--host 127.0.0.1] [--port 8189] [--data ./data] [--comfy URL]... [--comfy-output DIR]...
                    [--simulate N] [--sim-step-ms MS] [--token T] [--worker-capacity N]
                    [--durability full|normal] [--memory small|fast]
                    [--keep-jobs N] [--keep-days D] [--keep-thumbs-mb M]
                    [--allow-origin ORIGIN]... [--allow-host NAME]... [--comfy-ca FILE]
                    [--missing-node-grace-s S] [--store-busy-ms MS] [--max-retries N]
                    [--quarantine MIN] [--stall-timeout S] [--lease S]
                    [--collect DIR|s3://BUCKET/PREFIX|off] [--db postgres://…] [--db-pool N]
                    [--worker-lease S]
                    [--log-level trace|debug|info|warn|error|fatal|silent] [--log-json]

Runs comfy-queue in front of one ComfyUI per --comfy (default http://127.0.0.1:8188;
--comfy none: none, for a farm of remote agents only); --simulate N starts N simulated
ComfyUI workers instead, to try it without a GPU. --lease S (default 60,
COMFY_QUEUE_LEASE): a remote agent away longer loses its jobs to the queue.
Environment: COMFY_QUEUE_HOST, COMFY_QUEUE_PORT, COMFY_QUEUE_DATA, COMFY_QUEUE_COMFY
(comma-separated), COMFY_QUEUE_SIMULATE, COMFY_QUEUE_SIM_STEP_MS, COMFY_QUEUE_TOKEN,
COMFY_QUEUE_WORKER_CAPACITY, COMFY_QUEUE_DURABILITY. A --host other than loopback
requires a token. One server per --data folder: a second one there refuses to start.
--durability full (default) makes every commit survive power loss;
normal survives a crash of comfy-queue but may lose the last commits on power loss.
--memory small (default, COMFY_QUEUE_MEMORY) compacts the JavaScript heap often and keeps
a 4 MB database cache: about 50 MB less memory under load than fast, which dispatches about
5-10% more jobs per second.
History is kept forever unless --keep-jobs (newest N finished jobs), --keep-days
(finished jobs created in the last D days) or --keep-thumbs-mb (thumbnail storage)
limit it (COMFY_QUEUE_KEEP_JOBS, COMFY_QUEUE_KEEP_DAYS, COMFY_QUEUE_KEEP_THUMBS_MB).
--store-busy-ms (default 5000, COMFY_QUEUE_STORE_BUSY_MS): how long a write waits for
another process that locks the database before it answers 503 STORE_BUSY.
--allow-origin lets pages of that origin act (e.g. a ComfyUI opened directly); --allow-host
answers another name than the loopback ones on a loopback --host.
--comfy-ca FILE trusts a CA certificate for https:// workers (COMFY_QUEUE_COMFY_CA;
NODE_EXTRA_CA_CERTS works too). A pending job that needs a node no worker has waits
--missing-node-grace-s seconds (default 600) before it fails.
The farm: a job that fails because of its worker goes to another one --max-retries
times (default 2); a worker that failed 3 jobs in a row rests --quarantine minutes
(default 15); a running job from which no message came for --stall-timeout seconds
(default 600, COMFY_QUEUE_STALL_TIMEOUT; 0 = never) is interrupted and fails as
"stalled", a worker failure.
Logging: --log-level (COMFY_QUEUE_LOG_LEVEL, default info), --log-json
(COMFY_QUEUE_LOG_JSON=1) for JSON lines instead of readable text.
--db postgres://user@dbhost/comfyqueue (COMFY_QUEUE_DB) keeps the queue in PostgreSQL
instead of SQLite in --data (?schema=NAME picks the schema, default comfy_queue);
--db-pool N (COMFY_QUEUE_DB_POOL, default 10) connections at most. Several servers
may share one database (docs/scale-out.md): each push worker is driven by one of
them, which renews that every --worker-lease/3 seconds (COMFY_QUEUE_WORKER_LEASE,
default 30); when a server dies, the others take its workers over after that long.
`;

const MIGRATE_USAGE = `Usage:
  comfy-queue migrate [--db postgres://…] [--data ./data]

Creates or upgrades the database schema and exits: the PostgreSQL database of --db
(COMFY_QUEUE_DB), or else the SQLite database in --data. serve does the same when it
starts; several servers starting at once never both migrate (an advisory lock).
`;

const SIM_USAGE = `Usage:
  comfy-queue sim [--host 127.0.0.1] [--port 8188] [--step-ms MS] [--fail-rate R] [--web-ui] [--aiohttp-wire]

Runs the ComfyUI simulator alone, as a stand-in for a ComfyUI server.
`;

const AGENT_USAGE = `Usage:
  comfy-queue agent --server URL [--enroll TOKEN] [--comfy http://127.0.0.1:8188] [--name NAME]
                    [--tags T1,T2] [--capacity 2] [--data ./agent-data]
                    [--transport auto|ws|http] [--log-level LEVEL] [--log-json]

Runs next to one ComfyUI (--comfy) and works for the comfy-queue server at --server,
connecting out to it (no inbound port: it works behind NAT). The first time, --enroll
gives a one-time enrollment token (POST /api/farm/enrollments on the server) or the
server's --token; the agent then stores its own credential in --data (with its outbox
of reports kept while the server is unreachable). --name defaults to the host name.
--transport: one websocket (ws), HTTP long-poll for networks that block websockets
(http), or the websocket with long-poll when its upgrade fails (auto, the default).
Environment: COMFY_QUEUE_SERVER, COMFY_QUEUE_ENROLL, COMFY_QUEUE_AGENT_COMFY,
COMFY_QUEUE_AGENT_NAME, COMFY_QUEUE_AGENT_TAGS, COMFY_QUEUE_AGENT_CAPACITY,
COMFY_QUEUE_AGENT_DATA, COMFY_QUEUE_AGENT_TRANSPORT.
`;

const USAGE = `comfy-queue — a persistent queue server for ComfyUI

Usage: comfy-queue COMMAND [FLAGS]     (comfy-queue help COMMAND for each one's flags)

The server:
  serve   run comfy-queue in front of ComfyUI servers (or --simulate N workers)
  sim     run the ComfyUI simulator alone
  agent   run next to a ComfyUI on another machine and work for a server
  migrate create or upgrade the database schema (--db postgres://… or --data DIR)

Talking to a running server (--server URL, env COMFY_QUEUE_SERVER, default ${DEFAULT_SERVER};
--token T, env COMFY_QUEUE_TOKEN; --json prints the API's JSON):
${clientOverview()}

  comfy-queue --version   prints the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command ? 0 : 1;
  }
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'help') return help(rest[0]);
  if (['serve', 'sim', 'agent', 'migrate'].includes(command) && wantsHelp(rest)) return help(command);
  if (command === 'migrate') return migrateCommand(rest);
  const client = CLIENT_COMMANDS[command];
  if (client) {
    if (wantsHelp(rest)) return help(command);
    return client.run(rest, {
      out: process.stdout,
      err: process.stderr,
      env: process.env,
      now: Date.now,
      interrupted: () => new Promise((res) => process.once('SIGINT', () => res())),
    });
  }
  if (command === 'serve') {
    const { resolveServeConfig } = await import('./config.js');
    const config = resolveServeConfig(rest, process.env);
    // Before the server allocates its state and before the store's thread starts (it reads the flag then).
    if (config.memory === 'small') setFlagsFromString('--optimize-for-size');
    const { startServer } = await import('../server.js');
    const server = await startServer(config);
    const log = server.log;
    // A promise nobody awaited failed: a bug, but the queue's state is in the store and the rest of
    // the server is unaffected, so it is logged and the server stays up.
    process.on('unhandledRejection', (reason) => {
      log.error({ err: reason }, 'unhandled promise rejection (the server keeps running)');
    });
    // An exception escaped to the event loop: the process may be in any state. The store holds
    // everything committed, so the safe course is to log it, close what can be closed, and exit.
    process.on('uncaughtException', (err) => {
      log.fatal({ err }, 'uncaught exception: shutting down');
      server.close().finally(() => process.exit(1));
    });
    // Before the report: whoever reads "listening" may stop the server at once, and a signal that
    // arrives before its handler is installed ends the process without closing (the lock stays).
    onExit(() =>
      server.close().catch((err) => {
        log.error({ err }, `closing failed: ${(err as Error).message}`);
        throw err;
      }),
    );
    // The start-up report; the line naming the address comes last, so whoever waits for it has the rest.
    log.info(`dashboard: ${server.url}/dashboard/`);
    log.info(`ComfyUI's own UI, through comfy-queue: ${server.url}/ (when a worker serves it)`);
    log.info(`database: ${server.dbFile}`);
    log.info(`queue: ${server.engine.isPaused ? 'paused' : 'running'}`);
    for (const w of server.workers)
      log.info({ worker: w.id, url: w.url }, `worker ${w.id}: ${w.url} (${w.state})`);
    log.info({ url: server.url }, `comfy-queue listening on ${server.url}`);
    return -1;
  }
  if (command === 'agent') {
    const { resolveAgentConfig } = await import('./config.js');
    const c = resolveAgentConfig(rest, process.env, hostname());
    const { createLogger } = await import('../logging/logger.js');
    const { startAgent } = await import('../agents/client/agent.js');
    const log = createLogger({ level: c.logLevel, json: c.logJson });
    const agent = await startAgent({ ...c, version: version(), log });
    process.on('unhandledRejection', (reason) => {
      log.error({ err: reason }, 'unhandled promise rejection (the agent keeps running)');
    });
    onExit(() => agent.close());
    log.info(`agent ${agent.name}: ComfyUI ${c.comfy}, server ${c.server} (transport: ${c.transport})`);
    void agent.refused.then(() => agent.close().finally(() => process.exit(1)));
    return -1;
  }
  if (command === 'sim') {
    const { resolveSimConfig } = await import('./config.js');
    const c = resolveSimConfig(rest);
    const { AIOHTTP_WIRE, startSimulator } = await import('../sim/index.js');
    const sim = await startSimulator({
      host: c.host,
      port: c.port,
      stepMs: c.stepMs,
      failRate: c.failRate,
      webUi: c.webUi,
      wire: c.aiohttpWire ? AIOHTTP_WIRE : undefined,
    });
    process.stdout.write(
      `ComfyUI simulator listening on ${sim.url} (step ${c.stepMs} ms, fail rate ${c.failRate})\n`,
    );
    onExit(() => sim.close());
    return -1;
  }
  process.stderr.write(`comfy-queue: unknown command "${command}" (comfy-queue --help lists them)\n`);
  return 2;
}

function help(command: string | undefined): number {
  if (!command) process.stdout.write(USAGE);
  else if (command === 'serve') process.stdout.write(SERVE_USAGE);
  else if (command === 'sim') process.stdout.write(SIM_USAGE);
  else if (command === 'agent') process.stdout.write(AGENT_USAGE);
  else if (command === 'migrate') process.stdout.write(MIGRATE_USAGE);
  else if (CLIENT_COMMANDS[command]) process.stdout.write(`Usage:\n  ${CLIENT_COMMANDS[command].help}`);
  else {
    process.stderr.write(`comfy-queue: no command "${command}" (comfy-queue --help lists them)\n`);
    return 2;
  }
  return 0;
}

async function migrateCommand(argv: string[]): Promise<number> {
  const { resolveMigrateConfig } = await import('./config.js');
  const c = resolveMigrateConfig(argv, process.env);
  const { openStore } = await import('../store/open-store.js');
  const { redactUrl } = await import('../store/postgres/connection.js');
  const file = join(resolve(c.dataDir), 'comfy-queue.sqlite3');
  const store = await openStore(c.db ? { kind: 'postgres', url: c.db } : { kind: 'sqlite', file });
  await store.close();
  process.stdout.write(`database ready: ${c.db ? redactUrl(c.db) : file}\n`);
  return 0;
}

function version(): string {
  // package.json is two folders up from both src/cli and dist/cli.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return `comfy-queue ${pkg.version}`;
}

function onExit(close: () => Promise<void>): void {
  let closing = false;
  const stop = () => {
    if (closing) process.exit(1);
    closing = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof UsageError || (err as Error).name === 'ConfigError') {
      process.stderr.write(`comfy-queue: ${(err as Error).message}\n`);
      process.exit(2);
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(
        `comfy-queue: ${plainParseError((err as Error).message)} (see \`comfy-queue help ${process.argv[2] ?? ''}\`)\n`,
      );
      process.exit(2);
    }
    if (err instanceof DataFolderError) {
      process.stderr.write(`comfy-queue: ${err.message}\n`);
      process.exit(err.kind === 'unusable' ? 2 : 1);
    }
    if (err instanceof ApiError) {
      const hint = err.code === 'UNAUTHORIZED' ? ' (give --token or set COMFY_QUEUE_TOKEN)' : '';
      process.stderr.write(`comfy-queue: ${err.message} (${err.code}, HTTP ${err.status})${hint}\n`);
      process.exit(1);
    }
    if (
      err instanceof UnreachableError ||
      err instanceof JobRefError ||
      ONE_LINE_ERRORS.has((err as Error).name)
    ) {
      process.stderr.write(`comfy-queue: ${err.message}\n`);
      process.exit(1);
    }
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      process.stderr.write(`comfy-queue: ${(err as Error).message} — is another server on that port?\n`);
      process.exit(1);
    }
    // Unexpected: one line for people, the stack for a bug report on request.
    const debug = process.env.COMFY_QUEUE_DEBUG;
    process.stderr.write(
      debug
        ? `comfy-queue: ${(err as Error).stack ?? err}\n`
        : `comfy-queue: unexpected error: ${(err as Error).message ?? err} (COMFY_QUEUE_DEBUG=1 shows where)\n`,
    );
    process.exit(1);
  },
);

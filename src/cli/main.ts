#!/usr/bin/env node
import { startServer } from '../server.js';
/** The `comfy-queue` command. */
import { AIOHTTP_WIRE, startSimulator } from '../sim/index.js';
import { ConfigError, resolveServeConfig, resolveSimConfig } from './config.js';

const USAGE = `comfy-queue — a persistent queue server for ComfyUI

Usage:
  comfy-queue serve [--host 127.0.0.1] [--port 8189] [--data ./data] [--comfy URL]... [--comfy-output DIR]...
                    [--simulate N] [--sim-step-ms MS] [--token T] [--worker-capacity N]
                    [--durability full|normal] [--keep-jobs N] [--keep-days D] [--keep-thumbs-mb M]
                    [--allow-origin ORIGIN]... [--comfy-ca FILE] [--missing-node-grace-s S]
                    [--store-busy-ms MS] [--log-level trace|debug|info|warn|error|fatal|silent] [--log-json]
  comfy-queue sim   [--host 127.0.0.1] [--port 8188] [--step-ms MS] [--fail-rate R] [--web-ui] [--aiohttp-wire]

serve   runs comfy-queue in front of one ComfyUI per --comfy (default http://127.0.0.1:8188);
        --simulate N starts N simulated ComfyUI workers instead, to try it without a GPU.
        Environment: COMFY_QUEUE_HOST, COMFY_QUEUE_PORT, COMFY_QUEUE_DATA, COMFY_QUEUE_COMFY
        (comma-separated), COMFY_QUEUE_SIMULATE, COMFY_QUEUE_SIM_STEP_MS, COMFY_QUEUE_TOKEN,
        COMFY_QUEUE_WORKER_CAPACITY, COMFY_QUEUE_DURABILITY. A --host other than loopback
        requires a token. --durability full (default) makes every commit survive power loss;
        normal survives a crash of comfy-queue but may lose the last commits on power loss.
        --store-busy-ms (default 5000, COMFY_QUEUE_STORE_BUSY_MS): how long a write waits for
        another process that locks the database before it answers 503 STORE_BUSY.
        History is kept forever unless --keep-jobs (newest N finished jobs), --keep-days
        (finished jobs created in the last D days) or --keep-thumbs-mb (thumbnail storage)
        limit it (COMFY_QUEUE_KEEP_JOBS, COMFY_QUEUE_KEEP_DAYS, COMFY_QUEUE_KEEP_THUMBS_MB).
        --comfy-ca FILE trusts a CA certificate for https:// workers (COMFY_QUEUE_COMFY_CA;
        NODE_EXTRA_CA_CERTS works too). A pending job that needs a node no worker has waits
        --missing-node-grace-s seconds (default 600) before it fails.
        Logging: --log-level (COMFY_QUEUE_LOG_LEVEL, default info), --log-json
        (COMFY_QUEUE_LOG_JSON=1) for JSON lines instead of readable text.
sim     runs the ComfyUI simulator alone, as a stand-in for a ComfyUI server.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 1;
  }
  if (command === 'serve') {
    const config = resolveServeConfig(rest, process.env);
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
    // The start-up report; the line naming the address comes last, so whoever waits for it has the rest.
    log.info(`dashboard: ${server.url}/dashboard/`);
    log.info(`ComfyUI's own UI, through comfy-queue: ${server.url}/ (when a worker serves it)`);
    log.info(`database: ${server.dbFile}`);
    log.info(`queue: ${server.engine.isPaused ? 'paused' : 'running'}`);
    for (const w of server.workers)
      log.info({ worker: w.id, url: w.url }, `worker ${w.id}: ${w.url} (${w.state})`);
    log.info({ url: server.url }, `comfy-queue listening on ${server.url}`);
    onExit(() => server.close());
    return -1;
  }
  if (command === 'sim') {
    const c = resolveSimConfig(rest);
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
  process.stderr.write(`comfy-queue: unknown command "${command}"\n\n${USAGE}`);
  return 2;
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
    if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`comfy-queue: ${(err as Error).message}\n`);
      process.exit(2);
    }
    if ((err as { code?: string }).code === 'EADDRINUSE') {
      process.stderr.write(`comfy-queue: ${(err as Error).message} — is another server on that port?\n`);
      process.exit(1);
    }
    process.stderr.write(`comfy-queue: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);

/**
 * The ComfyUI drop-in (docs/comfyui-compat.md): ComfyUI's queue routes and
 * /api/jobs answered by comfy-queue, its /ws relayed from the workers, and
 * everything else passed through to a worker. Registered last, because its
 * pass-through catches every route nobody else answers.
 */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { PendingRevalidator } from '../engine/revalidate.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import type { BacklogLimits, BacklogStats } from './backlog.js';
import { FileLocator } from './comfy-files.js';
import { registerComfyJobsRoutes } from './comfy-jobs-routes.js';
import type { AgentFiles } from './comfy-proxy.js';
import { registerComfyProxy } from './comfy-proxy.js';
import { registerComfyRoutes } from './comfy-routes.js';
import type { ComfyWorker, ComfyWorkers } from './comfy-workers.js';
import { ComfyWsRelay } from './comfy-ws.js';
import { jsonNestingExceeds, tooDeep } from './json-depth.js';
import type { OriginPolicy } from './request-origin.js';
import { ensureWebsocket } from './websocket-plugin.js';

export interface ComfyOptions {
  workers: readonly ComfyWorker[];
  /** the remote agents of the moment: their object_info validates prompts too (the pass-through skips them) */
  agents?: () => Iterable<ComfyWorker>;
  /** re-check pending jobs against each worker's object_info when it connects (default true) */
  revalidate?: boolean;
  /** a pending job no worker can run waits this long before it fails (default 10 minutes) */
  missingNodeGraceMs?: number;
  /** how far a /ws client may fall behind (backlog.ts) */
  wsBacklog?: BacklogLimits;
  log?: Logger;
  /** who may call (request-origin.ts): the pass-through refuses a foreign page on every method, as ComfyUI does */
  originPolicy?: OriginPolicy;
  /** a file a remote agent's job produced (its ComfyUI is not reachable from here); null for other workers */
  agentFiles?: AgentFiles;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the /ws relay's backlog counters */
    comfyWsStats?: () => BacklogStats;
  }
}

export async function registerComfy(
  app: FastifyInstance,
  engine: Engine,
  opts: ComfyOptions,
  workers: ComfyWorkers,
  token: string | null,
): Promise<void> {
  const log = opts.log ?? silentLogger;
  const files = new FileLocator(engine.store);
  if (opts.revalidate !== false) {
    const revalidator = new PendingRevalidator(engine, {
      now: Date.now,
      graceMs: opts.missingNodeGraceMs ?? 10 * 60_000,
      infos: () => workers.known().map((k) => k.info),
      log,
    });
    workers.onObjectInfo(() => {
      revalidator.run().catch((err) => {
        // Safe: the jobs stay pending as they were; the next worker (re)connect runs the check again.
        log.error({ err }, `re-validating pending jobs failed: ${errMessage(err)}`);
      });
    });
    app.addHook('onClose', async () => revalidator.close());
  }

  // Text bodies of any content type are JSON to ComfyUI (Python clients often send no JSON content type).
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
      try {
        if (jsonNestingExceeds(body as string)) return done(tooDeep(), undefined);
        done(null, body ? JSON.parse(body as string) : undefined);
      } catch (err) {
        (err as { statusCode?: number }).statusCode = 400;
        done(err as Error, undefined);
      }
    });
    registerComfyRoutes(scope, engine, workers);
    registerComfyJobsRoutes(scope, engine);
  });

  await ensureWebsocket(app);
  const relay = new ComfyWsRelay(engine, files, { backlog: opts.wsBacklog, log });
  app.decorate('comfyWsStats', () => relay.stats());
  for (const path of ['/ws', '/api/ws']) {
    app.get<{ Querystring: { clientId?: string } }>(path, { websocket: true }, (socket, req) => {
      const clientId = typeof req.query.clientId === 'string' ? req.query.clientId : null;
      relay.attach(socket, clientId, req.headers.origin ?? null);
    });
  }
  app.addHook('onClose', async () => {
    relay.close();
  });

  await registerComfyProxy(app, {
    workers,
    files,
    token,
    originPolicy: opts.originPolicy,
    agentFiles: opts.agentFiles,
  });
}

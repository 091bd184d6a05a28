/**
 * The ComfyUI drop-in (docs/comfyui-compat.md): ComfyUI's queue routes and
 * /api/jobs answered by comfy-queue, its /ws relayed from the workers, and
 * everything else passed through to a worker. Registered last, because its
 * pass-through catches every route nobody else answers.
 */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { PendingRevalidator } from '../engine/revalidate.js';
import { FileLocator } from './comfy-files.js';
import { registerComfyJobsRoutes } from './comfy-jobs-routes.js';
import { registerComfyProxy } from './comfy-proxy.js';
import { registerComfyRoutes } from './comfy-routes.js';
import { type ComfyWorker, ComfyWorkers } from './comfy-workers.js';
import { ComfyWsRelay } from './comfy-ws.js';
import { jsonNestingExceeds, tooDeep } from './json-depth.js';
import { ensureWebsocket } from './websocket-plugin.js';

export interface ComfyOptions {
  workers: readonly ComfyWorker[];
  /** re-check pending jobs against each worker's object_info when it connects (default true) */
  revalidate?: boolean;
}

export async function registerComfy(
  app: FastifyInstance,
  engine: Engine,
  opts: ComfyOptions,
  token: string | null,
): Promise<void> {
  const workers = new ComfyWorkers(opts.workers, engine.bus);
  const files = new FileLocator(engine.store);
  if (opts.revalidate !== false) {
    const revalidator = new PendingRevalidator(engine.store, engine.bus, Date.now);
    workers.onObjectInfo(() => {
      void revalidator.run(() => workers.known().map((k) => k.info)).catch(() => undefined);
    });
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
  const relay = new ComfyWsRelay(engine, files);
  for (const path of ['/ws', '/api/ws']) {
    app.get<{ Querystring: { clientId?: string } }>(path, { websocket: true }, (socket, req) => {
      const clientId = typeof req.query.clientId === 'string' ? req.query.clientId : null;
      relay.attach(socket, clientId, req.headers.origin ?? null);
    });
  }
  app.addHook('onClose', async () => {
    relay.close();
    workers.close();
  });

  await registerComfyProxy(app, { workers, files, token });
}

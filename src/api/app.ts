/**
 * The HTTP server: one Fastify instance with the error catalog, the token
 * check, and the route groups.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { ERROR_CATALOG, type ErrorCode, QueueError } from '../domain/errors.js';
import type { Engine } from '../engine/engine.js';
import type { ProgressBook } from '../engine/progress-book.js';
import { type Logger, redactUrl, silentLogger } from '../logging/logger.js';
import type { TelemetrySource } from '../telemetry/telemetry.js';
import { type QueueEstimates, registerAdminRoutes } from './admin-routes.js';
import type { BacklogLimits } from './backlog.js';
import { type ComfyOptions, registerComfy } from './comfy.js';
import { ComfyWorkers } from './comfy-workers.js';
import { registerCors } from './cors.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerEventsWs } from './events-ws.js';
import { type HistoryOptions, registerHistoryRoutes } from './history-routes.js';
import { registerPqueueRoutes } from './pqueue-routes.js';
import { ensureWebsocket } from './websocket-plugin.js';

export interface AppOptions {
  engine: Engine;
  progress: ProgressBook;
  /** when set, every request must carry it */
  token: string | null;
  /** origins allowed to call comfy-queue from their pages (CORS); none by default */
  allowOrigins?: readonly string[];
  bodyLimit?: number;
  /** host and worker figures for /api/admin/telemetry and the event websocket */
  telemetry?: TelemetrySource;
  /** queue estimates for /api/admin/queue and /api/pqueue */
  estimates?: QueueEstimates;
  /** the ComfyUI drop-in (ComfyUI routes, /ws, pass-through to workers); off when absent */
  comfy?: ComfyOptions;
  /** thumbnails and previews of the history routes */
  history?: HistoryOptions;
  /** how far an event websocket client may fall behind (backlog.ts) */
  backlog?: BacklogLimits;
  /** the server's log; requests are logged at debug level only */
  log?: Logger;
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown): Record<string, unknown> {
  const error: Record<string, unknown> = { code, message: message ?? ERROR_CATALOG[code].message };
  if (details !== undefined) error.details = details;
  return { error };
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: (opts.log ?? silentLogger).child({ component: 'http' }) as FastifyBaseLogger,
    // Fastify's own two lines per request at info would drown the log: one line at debug instead (below).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 64 * 1024 * 1024,
    forceCloseConnections: true,
  });
  // Before the token hook: the plugin's own onRequest hook must mark upgrade requests first, so that a
  // refused upgrade (401) has its socket closed instead of left half-open (it would hang app.close()).
  await ensureWebsocket(app);
  registerCors(app, opts.allowOrigins ?? []);
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug(
      {
        method: req.method,
        url: redactUrl(req.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  if (opts.token) {
    const expected = Buffer.from(opts.token);
    app.addHook('onRequest', async (req, reply) => {
      const header = req.headers.authorization;
      const given =
        (header?.startsWith('Bearer ') ? header.slice(7) : undefined) ??
        (req.headers['x-comfy-queue-token'] as string | undefined) ??
        (req.query as Record<string, string> | undefined)?.token;
      const buf = Buffer.from(given ?? '');
      if (buf.length !== expected.length || !timingSafeEqual(buf, expected)) {
        return reply.code(401).send(errorBody('UNAUTHORIZED'));
      }
    });
  }

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof QueueError)
      return reply.code(err.status).send(errorBody(err.code, err.message, err.details));
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.statusCode === 413) return reply.code(413).send(errorBody('BODY_TOO_LARGE'));
    if (e.statusCode === 415) return reply.code(415).send(errorBody('UNSUPPORTED_MEDIA_TYPE'));
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply
        .code(400)
        .send(errorBody('INVALID_BODY', `The request body could not be read: ${e.message}`));
    }
    reply.log.error({ err, method: _req.method, url: redactUrl(_req.url) }, `internal error: ${e.message}`);
    return reply.code(500).send(errorBody('INTERNAL'));
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}.`)),
  );

  // One view of the workers' object_info, shared by the job routes (validation, conversion) and the drop-in.
  const workers = opts.comfy
    ? new ComfyWorkers(opts.comfy.workers, opts.engine.bus, opts.comfy.log ?? opts.log)
    : undefined;
  if (workers) app.addHook('onClose', async () => workers.close());
  registerPqueueRoutes(app, opts.engine, opts.progress, opts.estimates, workers);
  registerHistoryRoutes(app, opts.engine, opts.history);
  registerAdminRoutes(app, opts);
  registerDashboardRoutes(app, { workers: opts.comfy?.workers });
  await registerEventsWs(app, { ...opts, now: Date.now });
  if (opts.comfy && workers) await registerComfy(app, opts.engine, opts.comfy, workers, opts.token);
  return app;
}

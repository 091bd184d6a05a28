/**
 * The HTTP server: one Fastify instance with the error catalog, the token
 * check, and the route groups.
 */
import { timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import { AGENT_PATH_PREFIX } from '../agents/protocol.js';
import { ERROR_CATALOG, type ErrorCode, QueueError } from '../domain/errors.js';
import type { Engine } from '../engine/engine.js';
import type { ProgressBook } from '../engine/progress-book.js';
import { type Logger, redactUrl, silentLogger } from '../logging/logger.js';
import type { Outputs } from '../outputs/outputs.js';
import type { TelemetrySource } from '../telemetry/telemetry.js';
import { type QueueEstimates, registerAdminRoutes } from './admin-routes.js';
import type { BacklogLimits } from './backlog.js';
import { registerBatchRoutes } from './batch-routes.js';
import { type ComfyOptions, registerComfy } from './comfy.js';
import { ComfyWorkers } from './comfy-workers.js';
import { registerCors } from './cors.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerEventsWs } from './events-ws.js';
import { type FarmOptions, registerFarmRoutes } from './farm-routes.js';
import { type HistoryOptions, registerHistoryRoutes } from './history-routes.js';
import { jsonNestingExceeds, tooDeep } from './json-depth.js';
import { registerOutputsRoutes } from './outputs-routes.js';
import { registerPqueueRoutes } from './pqueue-routes.js';
import { registerQueueRoutes } from './queue-routes.js';
import { judgeRequest, type OriginPolicy } from './request-origin.js';
import { indexRoutes, isWebsocketRoute } from './route-index.js';
import { registerStatsRoutes } from './stats-routes.js';
import { registerTrackerRoutes, type TrackerRouteOptions } from './tracker-routes.js';
import { ensureWebsocket } from './websocket-plugin.js';

export interface AppOptions {
  engine: Engine;
  progress: ProgressBook;
  /** when set, every request must carry it */
  token: string | null;
  /** origins allowed to call comfy-queue from their pages (CORS); none by default */
  allowOrigins?: readonly string[];
  /** the address the server listens on: a loopback one makes it answer loopback Host names only (default 127.0.0.1) */
  bindHost?: string;
  /** Host names answered besides the loopback ones (--allow-host) */
  allowHosts?: readonly string[];
  /** a request must have arrived whole (headers and body) within this many ms; 0 = no limit (default 60 s) */
  requestTimeoutMs?: number;
  bodyLimit?: number;
  /** host and worker figures for /api/admin/telemetry and the event websocket */
  telemetry?: TelemetrySource;
  /** queue estimates for /api/admin/queue and /api/pqueue */
  estimates?: QueueEstimates;
  /** the ComfyUI drop-in (ComfyUI routes, /ws, pass-through to workers); off when absent */
  comfy?: ComfyOptions;
  /** the farm's worker routes (/api/farm); off when absent */
  farm?: FarmOptions;
  /** thumbnails and previews of the history routes */
  history?: HistoryOptions;
  /** how far an event websocket client may fall behind (backlog.ts) */
  backlog?: BacklogLimits;
  /** the server's log; requests are logged at debug level only */
  log?: Logger;
  /** batches (/api/pqueue/batches) and the render tracker's API; off when absent */
  batches?: Omit<TrackerRouteOptions, 'engine'>;
  /** collected outputs: each job's `collection` and GET /api/pqueue/jobs/{id}/outputs/{n} */
  outputs?: Outputs;
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown): Record<string, unknown> {
  const error: Record<string, unknown> = { code, message: message ?? ERROR_CATALOG[code].message };
  if (details !== undefined) error.details = details;
  return { error };
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** The answer to a request Fastify's router cannot take (a URL that does not decode, a path segment too long). */
function onFrameworkError(err: FastifyError, reply: FastifyReply): FastifyReply {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return reply.code(414).send(errorBody('URL_TOO_LONG'));
  return reply.code(400).send(errorBody('BAD_REQUEST', `The request URL cannot be read (${err.code}).`));
}

/**
 * The answer to what Node's HTTP parser refuses before Fastify sees a request (an unknown method, a
 * malformed or oversized header) and to a request not received in time: in the catalog's shape,
 * written on the socket, which is then closed.
 */
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? ([408, 'REQUEST_TIMEOUT', undefined] as const)
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? ([431, 'HEADERS_TOO_LARGE', undefined] as const)
        : ([400, 'BAD_REQUEST', `The HTTP request is malformed (${err.code ?? err.message}).`] as const);
  // A request already answered (its response under way, or sent while its body still arrives, as the
  // pass-through may) gets no second answer: the socket is only closed.
  const s = socket as {
    _httpMessage?: { headersSent?: boolean } | null;
    parser?: { incoming?: { complete?: boolean } | null } | null;
  };
  const answered = s._httpMessage
    ? s._httpMessage.headersSent === true
    : s.parser?.incoming?.complete === false;
  if (socket.writable && !answered) {
    const body = JSON.stringify(errorBody(code, message));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    loggerInstance: (opts.log ?? silentLogger).child({ component: 'http' }) as FastifyBaseLogger,
    // Fastify's own two lines per request at info would drown the log: one line at debug instead (below).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 64 * 1024 * 1024,
    forceCloseConnections: true,
    // A longer path parameter would miss its route and fall through to the pass-through to a worker.
    routerOptions: { maxParamLength: 2048 },
    requestTimeout,
    // Node looks for overdue requests every connectionsCheckingInterval (30 s by default): a few times per timeout.
    ...(requestTimeout > 0
      ? {
          http: {
            connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(requestTimeout / 4))),
            headersTimeout: Math.min(60_000, requestTimeout),
          },
        }
      : {}),
    frameworkErrors: (err, _req, reply) => onFrameworkError(err, reply),
    clientErrorHandler: onClientError,
  });
  indexRoutes(app);
  // Every body is JSON checked for depth before it is parsed (see json-depth.ts), with Fastify's own parser.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (jsonNestingExceeds(body as string)) return done(tooDeep(), undefined);
    defaultJson(req, body as string, done);
  });

  // The plugin's own onRequest hook must mark upgrade requests before the hooks below, so that a refused
  // upgrade (403, 401) has its socket closed instead of left half-open (it would hang app.close()).
  await ensureWebsocket(app);
  const policy: OriginPolicy = {
    bindHost: opts.bindHost ?? '127.0.0.1',
    allowOrigins: opts.allowOrigins ?? [],
    allowHosts: opts.allowHosts ?? [],
  };
  // Before CORS and the token: a page of another origin is refused whatever it carries (request-origin.ts).
  app.addHook('onRequest', async (req, reply) => {
    const fetchSite = req.headers['sec-fetch-site'];
    const verdict = judgeRequest(
      {
        method: req.method,
        host: req.headers.host,
        origin: req.headers.origin,
        secFetchSite: typeof fetchSite === 'string' ? fetchSite : undefined,
        websocket: req.ws,
      },
      policy,
    );
    if (!verdict.allowed) return reply.code(403).send(errorBody(verdict.code, verdict.message));
    const path = req.url.split('?')[0];
    if (req.ws && !isWebsocketRoute(app, req))
      return reply.code(404).send(errorBody('NOT_FOUND', `No websocket at ${req.method} ${path}.`));
    if (!req.ws && req.method === 'GET' && isWebsocketRoute(app, req)) {
      return reply
        .code(404)
        .send(errorBody('NOT_FOUND', `${path} is a websocket: connect with "Upgrade: websocket".`));
    }
  });
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
      // An agent's own routes check its enrollment token or credential instead (src/agents).
      if (req.url.startsWith(AGENT_PATH_PREFIX)) return;
      const header = req.headers.authorization;
      // The scheme name is case-insensitive (RFC 9110 §11.1).
      const bearer = header ? /^bearer[ \t]+(.*)$/is.exec(header) : null;
      const given =
        bearer?.[1] ??
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
    if (e.statusCode === 408) return reply.code(408).send(errorBody('REQUEST_TIMEOUT'));
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
    ? new ComfyWorkers(opts.comfy.workers, opts.engine.bus, opts.comfy.log ?? opts.log, opts.comfy.agents)
    : undefined;
  if (workers) {
    app.addHook('onClose', async () => workers.close());
    opts.engine.readObjectInfoThrough((id) =>
      workers.all().some((w) => w.id === id) ? workers.refresh(id) : undefined,
    );
  }
  registerPqueueRoutes(app, opts.engine, opts.progress, opts.estimates, workers, opts.outputs);
  if (opts.outputs) registerOutputsRoutes(app, opts.engine, opts.outputs);
  registerQueueRoutes(app, opts.engine);
  registerStatsRoutes(app, opts.engine);
  registerHistoryRoutes(app, opts.engine, opts.history);
  if (opts.batches) {
    registerBatchRoutes(app, opts.batches.batches, workers);
    registerTrackerRoutes(app, { ...opts.batches, engine: opts.engine });
  }
  if (opts.farm) registerFarmRoutes(app, opts.engine, opts.farm);
  registerAdminRoutes(app, opts);
  registerDashboardRoutes(app, { workers: opts.comfy?.workers });
  await registerEventsWs(app, { ...opts, batchService: opts.batches?.batches, now: Date.now });
  if (opts.comfy && workers)
    await registerComfy(app, opts.engine, { ...opts.comfy, originPolicy: policy }, workers, opts.token);
  return app;
}

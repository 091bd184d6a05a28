/**
 * Everything comfy-queue does not answer itself passes through to a worker
 * (comfyui-protocol.md §1.2, §2.11–2.16): any method, the body streamed as it
 * comes (multipart uploads included), the answer streamed back byte for byte
 * whatever the timing of the worker's writes (aiohttp sends headers and body
 * separately, files in pieces). The target is the first healthy worker, or
 * for /view the worker that produced the file, and nothing else: the request
 * line chooses a path on that worker, never a host (proxy-request.ts).
 *
 * The reply is taken over from Fastify (hijacked) before anything is
 * awaited, so Fastify never answers on its own while the worker's answer is
 * still on its way.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CATALOG, type ErrorCode } from '../domain/errors.js';
import type { FileLocator } from './comfy-files.js';
import type { ComfyWorker, ComfyWorkers } from './comfy-workers.js';
import { DASHBOARD_PATH } from './dashboard-routes.js';
import {
  downstreamResponseHeaders,
  forwardPath,
  hasResponseBody,
  upstreamRequestHeaders,
} from './proxy-request.js';
import { judgeRequest, type OriginPolicy } from './request-origin.js';

/** comfy-queue's own API prefixes: an unknown route under them is comfy-queue's 404, not ComfyUI's. */
const OWN_PREFIXES = ['/api/pqueue', '/api/events', '/api/admin', '/api/farm'];

/** A worker that has not started answering after this long is given up on. */
const HEADERS_TIMEOUT_MS = 120_000;

export interface ProxyOptions {
  workers: ComfyWorkers;
  files: FileLocator;
  /** comfy-queue's token: its Authorization header and `token` query parameter are not forwarded */
  token: string | null;
  /**
   * Who may call. The request guard already refused a foreign page's state-changing requests; here
   * any method from a page of another origin is refused, as the worker itself would refuse it (its
   * own check is disabled by the Origin rewrite below).
   */
  originPolicy?: OriginPolicy;
  /** /view of a file a remote agent produced: fetched over the agent's connection */
  agentFiles?: AgentFiles;
}

/** The bytes of a file a remote agent's job produced; null when `worker` is not an agent. */
export type AgentFiles = (
  worker: string,
  file: { type: string; subfolder: string; filename: string },
) => Promise<Buffer> | null;

const VIEW_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  json: 'application/json',
};

/** /view's file: `filename` (possibly "name [type]"), `subfolder`, `type`. */
function viewTarget(url: URL): { type: string; subfolder: string; filename: string } | null {
  let filename = url.searchParams.get('filename');
  if (!filename) return null;
  let type = url.searchParams.get('type') ?? 'output';
  const ann = / \[(output|input|temp)\]$/.exec(filename);
  if (ann) {
    type = ann[1]!;
    filename = filename.slice(0, ann.index);
  }
  return { type, subfolder: url.searchParams.get('subfolder') ?? '', filename };
}

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

export async function registerComfyProxy(app: FastifyInstance, opts: ProxyOptions): Promise<void> {
  const pick = async (url: URL): Promise<ComfyWorker | Buffer | undefined> => {
    if (url.pathname === '/view' || url.pathname === '/api/view') {
      const f = viewTarget(url);
      const id = f ? await opts.files.workerFor(f.type, f.subfolder, f.filename) : null;
      const fromAgent = id && f && opts.agentFiles ? opts.agentFiles(id, f) : null;
      if (fromAgent) return fromAgent;
      const w = id ? opts.workers.get(id) : undefined;
      if (w) return w;
    }
    return opts.workers.primary();
  };

  const handler = (req: FastifyRequest, reply: FastifyReply): void => {
    const res = reply.raw;
    // Headers set by earlier hooks (CORS) go out with the worker's answer.
    const extra = reply.getHeaders();
    reply.hijack();
    const url = new URL(req.url.startsWith('/') ? req.url : '/', 'http://comfy-queue');
    if ((req as { ws?: boolean }).ws || OWN_PREFIXES.some((p) => url.pathname.startsWith(p))) {
      sendError(res, 'NOT_FOUND', `No route ${req.method} ${url.pathname}.`);
      return;
    }
    if (opts.originPolicy && req.headers.origin !== undefined) {
      const verdict = judgeRequest(
        { method: 'POST', host: req.headers.host, origin: req.headers.origin, websocket: false },
        opts.originPolicy,
      );
      if (!verdict.allowed) {
        sendError(res, verdict.code, verdict.message);
        return;
      }
    }
    void pick(url).then(
      (worker) => {
        if (Buffer.isBuffer(worker)) sendFile(res, worker, url, extra);
        else if (worker) forward(req, res, worker, url, extra, opts);
        else if (isEntry(req, url)) toDashboard(res);
        else sendError(res, 'WORKER_UNAVAILABLE', 'No ComfyUI worker answered: no worker is configured.');
      },
      (err: Error) => sendError(res, 'WORKER_UNAVAILABLE', `No ComfyUI worker answered: ${err.message}.`),
    );
  };

  await app.register(async (scope) => {
    // Bodies stay unread streams here, piped to the worker as they arrive.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.all('/', handler);
    scope.all('/*', handler);
  });
  app.addHook('onClose', async () => {
    agents.http.destroy();
    agents.https.destroy();
  });
}

/** A file fetched from a remote agent, answered as ComfyUI's /view would. */
function sendFile(res: ServerResponse, bytes: Buffer, url: URL, extra: Record<string, unknown>): void {
  const name = viewTarget(url)?.filename ?? '';
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) res.setHeader(k, v as string);
  res.writeHead(200, {
    'Content-Type': VIEW_TYPES[ext] ?? 'application/octet-stream',
    'Content-Length': bytes.length,
    'Content-Disposition': `filename="${name.replace(/["\\\r\n]/g, '_')}"`,
  });
  res.end(bytes);
}

/** `/` opened in a browser: ComfyUI's UI when a worker serves one, else the dashboard. */
function isEntry(req: FastifyRequest, url: URL): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') &&
    (url.pathname === '/' || url.pathname === '/index.html')
  );
}

function forward(
  req: FastifyRequest,
  res: ServerResponse,
  worker: ComfyWorker,
  url: URL,
  extra: Record<string, unknown>,
  opts: ProxyOptions,
  retried = false,
): void {
  const base = new URL(worker.url);
  const path = forwardPath(req.url, base.pathname, opts.token !== null);
  if (path === null) {
    sendError(res, 'INVALID_TARGET', 'The request target must be a path such as /view?filename=x.png.');
    return;
  }
  const secure = base.protocol === 'https:';
  const method = req.method;
  const upstream = (secure ? httpsRequest : httpRequest)({
    protocol: base.protocol,
    hostname: base.hostname.replace(/^\[|\]$/g, ''),
    port: base.port || (secure ? 443 : 80),
    method,
    path,
    agent: secure ? agents.https : agents.http,
    headers: upstreamRequestHeaders(
      req.raw.rawHeaders,
      { host: base.host, origin: base.origin },
      opts.token !== null,
    ),
    timeout: HEADERS_TIMEOUT_MS,
  });
  const bodied =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  let answered = false;

  // The client went away: the worker's request is cancelled with it.
  const onClientClose = () => {
    if (!res.writableFinished) upstream.destroy();
  };
  res.on('close', onClientClose);

  upstream.on('timeout', () =>
    upstream.destroy(new Error(`no answer within ${HEADERS_TIMEOUT_MS / 1000} s`)),
  );
  upstream.on('response', (up: IncomingMessage) => {
    answered = true;
    const status = up.statusCode ?? 502;
    if (isEntry(req, url) && status === 404) {
      // A worker without a web UI (simulated, or ComfyUI started without its frontend).
      up.resume();
      return toDashboard(res);
    }
    if (method === 'POST' && /^\/(api\/)?upload\//.test(url.pathname)) opts.workers.invalidate();
    const headers = downstreamResponseHeaders(up.rawHeaders);
    for (const [k, v] of Object.entries(extra)) {
      if (v !== undefined && !headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === k))
        headers.push(k, String(v));
    }
    res.writeHead(status, up.statusMessage, headers);
    if (!hasResponseBody(method, status)) {
      up.resume();
      res.end();
      return;
    }
    up.on('error', () => res.destroy());
    up.on('aborted', () => res.destroy());
    up.pipe(res);
  });
  upstream.on('error', (err) => {
    if (answered || res.headersSent) {
      // Mid-body: the only honest signal left is to cut the connection.
      res.destroy();
      return;
    }
    if (res.destroyed) return;
    // A kept-alive socket the worker had just closed: an idempotent request is safe to send again.
    if (!retried && !bodied && (upstream as { reusedSocket?: boolean }).reusedSocket) {
      res.off('close', onClientClose);
      return forward(req, res, worker, url, extra, opts, true);
    }
    if (isEntry(req, url)) return toDashboard(res);
    sendError(res, 'WORKER_UNAVAILABLE', `No ComfyUI worker answered: worker ${worker.id}: ${err.message}.`);
  });
  if (bodied) {
    const body = (req.body as Readable | undefined) ?? req.raw;
    body.on('error', () => upstream.destroy());
    body.pipe(upstream);
  } else upstream.end();
}

function toDashboard(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(302, { location: DASHBOARD_PATH, 'content-length': 0, 'cache-control': 'no-cache' });
  res.end();
}

function sendError(res: ServerResponse, code: ErrorCode, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(ERROR_CATALOG[code].status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

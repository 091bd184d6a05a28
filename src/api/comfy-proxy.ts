/**
 * Everything comfy-queue does not answer itself passes through to a worker
 * (comfyui-protocol.md §1.2, §2.11–2.16): any method, the body streamed
 * as it comes (multipart uploads included), the answer streamed back. The
 * target is the first healthy worker, or for /view the worker that produced
 * the file. Hop-by-hop headers are dropped and Origin is rewritten to the
 * worker's own (with Sec-Fetch-Site dropped), because a loopback ComfyUI
 * answers 403 when Origin does not match its Host.
 */
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FileLocator } from './comfy-files.js';
import type { ComfyWorker, ComfyWorkers } from './comfy-workers.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'origin',
  'sec-fetch-site',
  'x-comfy-queue-token',
]);

/** comfy-queue's own API prefixes: an unknown route under them is comfy-queue's 404, not ComfyUI's. */
const OWN_PREFIXES = ['/api/pqueue', '/api/events', '/api/admin'];

export interface ProxyOptions {
  workers: ComfyWorkers;
  files: FileLocator;
  /** comfy-queue's token: its Authorization header is not forwarded */
  token: string | null;
}

function requestHeaders(h: IncomingHttpHeaders, target: URL, dropAuth: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k) || (dropAuth && k === 'authorization')) continue;
    out[k] = v;
  }
  out.host = target.host;
  if (h.origin !== undefined) out.origin = target.origin;
  return out;
}

function responseHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    out[k] = v;
  }
  return out;
}

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

export async function registerComfyProxy(app: FastifyInstance, opts: ProxyOptions): Promise<void> {
  const pick = async (url: URL): Promise<ComfyWorker | undefined> => {
    if (url.pathname === '/view' || url.pathname === '/api/view') {
      const f = viewTarget(url);
      const id = f ? await opts.files.workerFor(f.type, f.subfolder, f.filename) : null;
      const w = id ? opts.workers.get(id) : undefined;
      if (w) return w;
    }
    return opts.workers.primary();
  };

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = new URL(req.url, 'http://comfy-queue');
    if ((req as { ws?: boolean }).ws || OWN_PREFIXES.some((p) => url.pathname.startsWith(p))) {
      return reply.code(404).send({
        error: { code: 'NOT_FOUND', message: `No route ${req.method} ${url.pathname}.` },
      });
    }
    const worker = await pick(url);
    if (!worker) return unavailable(reply, 'no worker is configured');
    const target = new URL(req.url, worker.url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    return new Promise<void>((resolve) => {
      const upstream = send(target, {
        method: req.method,
        headers: requestHeaders(req.headers, target, opts.token !== null),
      });
      upstream.on('response', (res) => {
        if (req.method === 'POST' && /^\/(api\/)?upload\//.test(url.pathname)) opts.workers.invalidate();
        reply.code(res.statusCode ?? 502).headers(responseHeaders(res.headers));
        void reply.send(req.method === 'HEAD' ? undefined : res);
        resolve();
      });
      upstream.on('error', (err) => {
        if (!reply.sent) void unavailable(reply, `worker ${worker.id}: ${err.message}`);
        resolve();
      });
      if (hasBody) {
        const body = (req.body as Readable | undefined) ?? req.raw;
        body.pipe(upstream);
      } else upstream.end();
    });
  };

  await app.register(async (scope) => {
    // Bodies stay unread streams here, piped to the worker as they arrive.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.all('/', handler);
    scope.all('/*', handler);
  });
}

function unavailable(reply: FastifyReply, why: string): FastifyReply {
  return reply.code(502).send({
    error: { code: 'WORKER_UNAVAILABLE', message: `No ComfyUI worker answered: ${why}.` },
  });
}

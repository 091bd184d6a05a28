/**
 * The web dashboard at /dashboard/ and the ComfyUI frontend extension at
 * /extensions/comfy-queue/ (comfyui-protocol.md §8.4), both served from the
 * Vite build in dist/web (`npm run build`). Routes are registered explicitly
 * so they never fall through to the pass-through proxy to the workers.
 * Unknown paths under /dashboard/ answer index.html (the app routes by hash,
 * but a reload of any deep link still lands on the app).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

export const DASHBOARD_PATH = '/dashboard/';
/** The module ComfyUI imports; the /extensions list must include it. */
export const EXTENSION_MODULE_PATH = '/extensions/comfy-queue/main.js';

/** dist/web, found the same way from src/api (tests via tsx) and dist/api (built). */
export const WEB_DIST = resolve(import.meta.dirname, '../../dist/web');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The file for a URL path below `root`, or null when it would leave `root`. */
export function safeJoin(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null; // a malformed %-escape: no such file (404)
  }
  if (decoded.includes('\0')) return null;
  const file = resolve(root, `.${sep}${decoded}`);
  return file === root || file.startsWith(root + sep) ? file : null;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false; // absent or unreadable: not a file to serve (404)
  }
}

async function sendFile(reply: FastifyReply, file: string, immutable: boolean): Promise<FastifyReply> {
  const body = await readFile(file);
  return reply
    .header('content-type', contentType(file))
    .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('x-content-type-options', 'nosniff')
    .send(body);
}

function notBuilt(reply: FastifyReply): FastifyReply {
  return reply.code(503).send({
    error: { code: 'NOT_BUILT', message: 'The dashboard is not built: run `npm run build`.' },
  });
}

export interface DashboardOptions {
  /** the build folder; dist/web by default */
  root?: string;
  /** the ComfyUI workers, whose /extensions list is merged with comfy-queue's module */
  workers?: readonly { readonly url: string; readonly state: string }[];
}

const EXTENSIONS_TIMEOUT_MS = 3_000;

/** The worker's extension list with comfy-queue's module added (comfyui-protocol.md §8.4). */
export function mergeExtensionList(upstream: unknown): string[] {
  const list = Array.isArray(upstream) ? upstream.filter((p): p is string => typeof p === 'string') : [];
  return list.includes(EXTENSION_MODULE_PATH) ? list : [...list, EXTENSION_MODULE_PATH];
}

async function upstreamExtensions(workers: DashboardOptions['workers']): Promise<unknown> {
  const worker = workers?.find((w) => w.state === 'online') ?? workers?.[0];
  if (!worker) return [];
  try {
    const res = await fetch(`${worker.url.replace(/\/+$/, '')}/api/extensions`, {
      signal: AbortSignal.timeout(EXTENSIONS_TIMEOUT_MS),
    });
    return res.ok ? await res.json() : [];
  } catch {
    // the worker is away: ComfyUI's UI still gets the panel
    return [];
  }
}

const UI_PROBE_TTL_MS = 5_000;

/**
 * Whether ComfyUI's own web UI can be opened through comfy-queue at `/`: the
 * worker it passes through to answers its `/` with a page. Probed with HEAD,
 * remembered a few seconds so a dashboard polling it costs the worker little.
 */
function comfyUiProbe(workers: DashboardOptions['workers']): () => Promise<boolean> {
  let cached: { at: number; available: boolean } | null = null;
  return async () => {
    if (cached && Date.now() - cached.at < UI_PROBE_TTL_MS) return cached.available;
    const worker = workers?.find((w) => w.state === 'online');
    let available = false;
    if (worker) {
      try {
        const res = await fetch(`${worker.url.replace(/\/+$/, '')}/`, {
          method: 'HEAD',
          signal: AbortSignal.timeout(EXTENSIONS_TIMEOUT_MS),
        });
        available = res.ok && (res.headers.get('content-type') ?? '').startsWith('text/html');
      } catch {
        // not answering: no UI to offer, which is what the answer says
        available = false;
      }
    }
    cached = { at: Date.now(), available };
    return available;
  };
}

export function registerDashboardRoutes(app: FastifyInstance, opts: DashboardOptions = {}): void {
  const root = opts.root ?? WEB_DIST;
  const dashboard = join(root, 'dashboard');
  const extension = join(root, 'extension');

  app.get('/dashboard', async (_req, reply) => reply.redirect(DASHBOARD_PATH));
  // The live monitor's address of old (seed 001) opens the dashboard's queue.
  app.get('/admin/queue', async (_req, reply) => reply.redirect(`${DASHBOARD_PATH}#/queue`));

  const uiAvailable = comfyUiProbe(opts.workers);
  app.get('/api/pqueue/comfyui', async (_req, reply) =>
    reply.header('cache-control', 'no-cache').send({ available: await uiAvailable(), path: '/' }),
  );

  app.get<{ Params: { '*': string } }>('/dashboard/*', async (req, reply) => {
    const rest = req.params['*'] ?? '';
    const file = rest ? safeJoin(dashboard, rest) : null;
    if (file && (await isFile(file))) return sendFile(reply, file, rest.startsWith('assets/'));
    // A missing asset is a 404; any other path is a page of the app.
    if (rest.startsWith('assets/'))
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No such file.' } });
    const index = join(dashboard, 'index.html');
    return (await isFile(index)) ? sendFile(reply, index, false) : notBuilt(reply);
  });

  // Explicit, so they win over the pass-through to the workers.
  for (const path of ['/extensions', '/api/extensions']) {
    app.get(path, async (_req, reply) =>
      reply
        .header('cache-control', 'no-cache')
        .send(mergeExtensionList(await upstreamExtensions(opts.workers))),
    );
  }

  app.get<{ Params: { '*': string } }>('/extensions/comfy-queue/*', async (req, reply) => {
    const file = safeJoin(extension, req.params['*'] ?? '');
    if (file && (await isFile(file))) return sendFile(reply, file, false);
    if (!(await isFile(join(extension, 'main.js')))) return notBuilt(reply);
    return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No such file.' } });
  });
}

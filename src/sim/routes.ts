/**
 * The simulator's HTTP routes, each at `/x` and `/api/x` like ComfyUI
 * (comfyui-protocol.md §2), plus `GET /sim/executions` for tests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { FileType } from './file-store.js';
import {
  BadJson,
  methodNotAllowed,
  notFound,
  parseJson,
  pyInt,
  readBody,
  sendEmpty,
  sendJson,
  serverError,
} from './http-util.js';
import { simJobs } from './jobs.js';
import { parseMultipart } from './multipart.js';
import { CHECKPOINTS, objectInfoJson } from './node-catalog.js';
import { exposed } from './prompt-queue.js';
import type { SimState } from './simulator.js';
import { systemStats } from './system-info.js';
import { serveWebUiFile } from './web-ui.js';
import { SERVER_FEATURE_FLAGS } from './ws-hub.js';

type Ctx = { sim: SimState; req: IncomingMessage; res: ServerResponse; url: URL; tail: string };
type Handler = (c: Ctx) => void | Promise<void>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const v = parseJson(await readBody(req));
  if (!isObject(v)) throw new BadJson('not an object');
  return v;
}

const TYPES: FileType[] = ['output', 'input', 'temp'];

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

function view({ sim, res, url }: Ctx) {
  const q = url.searchParams;
  let filename = q.get('filename');
  if (filename === null) return notFound(res);
  let type = q.get('type') ?? 'output';
  const ann = / \[(output|input|temp)\]$/.exec(filename);
  if (ann) {
    type = ann[1]!;
    filename = filename.slice(0, ann.index);
  }
  if (!filename || filename.startsWith('/') || filename.includes('..')) return sendEmpty(res, 400);
  if (!TYPES.includes(type as FileType)) return sendEmpty(res, 400);
  const sub = posix.normalize((q.get('subfolder') ?? '').replace(/\\/g, '/') || '.');
  if (sub.startsWith('..') || sub.startsWith('/')) return sendEmpty(res, 403);
  const name = posix.basename(filename);
  const folder = sub === '.' ? '' : sub.replace(/\/$/, '');
  const bytes = sim.files.get(type as FileType, folder, name);
  if (!bytes) return sendEmpty(res, 404);
  const key = `${type}/${folder}/${name}`;
  sim.viewed.set(key, (sim.viewed.get(key) ?? 0) + 1);
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[posix.extname(name).toLowerCase()] ?? 'application/octet-stream',
    'Content-Disposition': `filename="${name}"`,
    'Content-Length': bytes.length,
  });
  res.end(bytes);
}

async function upload({ sim, req, res }: Ctx): Promise<void> {
  const parts = parseMultipart(await readBody(req), req.headers['content-type'] ?? '');
  const field = (n: string) =>
    parts?.find((p) => p.name === n && p.filename === undefined)?.data.toString('utf8');
  const image = parts?.find((p) => p.name === 'image' && p.filename !== undefined);
  if (!image?.filename) return sendEmpty(res, 400);
  const type = field('type') || 'input';
  if (!TYPES.includes(type as FileType)) return serverError(res);
  const subfolder = field('subfolder') ?? '';
  const norm = posix.normalize(subfolder.replace(/\\/g, '/') || '.');
  if (norm.startsWith('..') || norm.startsWith('/') || image.filename.includes('/'))
    return sendEmpty(res, 400);
  const folder = norm === '.' ? '' : norm;
  const overwrite = field('overwrite');
  let name = image.filename;
  let duplicate = false;
  if (overwrite !== 'true' && overwrite !== '1') {
    const ext = posix.extname(name);
    const stem = name.slice(0, name.length - ext.length);
    for (let i = 1; ; i++) {
      const existing = sim.files.get(type as FileType, folder, name);
      if (!existing) break;
      if (existing.equals(image.data)) {
        duplicate = true;
        break;
      }
      name = `${stem} (${i})${ext}`;
    }
  }
  if (!duplicate) sim.files.put(type as FileType, folder, name, Buffer.from(image.data));
  sendJson(res, 200, { name, subfolder, type });
}

async function postPrompt({ sim, req, res }: Ctx): Promise<void> {
  const body = await jsonBody(req);
  const usage = req.headers['comfy-usage-source'];
  const gate = sim.opts.promptGate;
  const pid = typeof body.prompt_id === 'string' ? body.prompt_id : '';
  if (gate) await gate(pid, 'before-queue');
  const answer = sim.postPrompt(body, typeof usage === 'string' ? usage : undefined);
  if (gate) await gate(pid, 'before-answer');
  sendJson(res, answer.status, answer.body);
}

function getHistory({ sim, res, url }: Ctx) {
  const mi = url.searchParams.get('max_items');
  const off = url.searchParams.get('offset');
  const maxItems = mi === null ? null : pyInt(mi);
  const offset = off === null ? null : pyInt(off);
  if ((mi !== null && maxItems === null) || (off !== null && offset === null)) return serverError(res);
  sendJson(res, 200, sim.history.list(maxItems, offset));
}

async function postQueueOrHistory(c: Ctx, which: 'queue' | 'history'): Promise<void> {
  const body = await jsonBody(c.req);
  if ('clear' in body && body.clear) {
    if (which === 'queue') c.sim.clearPending();
    else c.sim.history.clear();
  }
  if ('delete' in body && Array.isArray(body.delete)) {
    if (which === 'queue') c.sim.deletePending(body.delete);
    else for (const id of body.delete) c.sim.history.delete(String(id));
  }
  sendEmpty(c.res);
}

async function interrupt({ sim, req, res }: Ctx): Promise<void> {
  let body: unknown = {};
  try {
    body = parseJson(await readBody(req));
  } catch {
    body = {};
  }
  const pid = isObject(body) ? body.prompt_id : undefined;
  sim.interrupt(pid ? String(pid) : undefined);
  sendEmpty(res);
}

async function free({ sim, req, res }: Ctx): Promise<void> {
  const body = await jsonBody(req);
  if (body.free_memory) sim.executor.clearCache();
  sendEmpty(res);
}

const GET: Record<string, Handler> = {
  '/prompt': ({ sim, res }) => sendJson(res, 200, { exec_info: { queue_remaining: sim.queueRemaining() } }),
  '/queue': ({ sim, res }) =>
    sendJson(res, 200, {
      queue_running: sim.running ? [exposed(sim.running)] : [],
      queue_pending: sim.queue.items().map(exposed),
    }),
  '/history': getHistory,
  '/object_info': ({ sim, res }) => sendJson(res, 200, null, objectInfoJson(sim.objectInfo())),
  '/system_stats': ({ res }) => sendJson(res, 200, systemStats()),
  '/features': ({ res }) => sendJson(res, 200, SERVER_FEATURE_FLAGS),
  '/embeddings': ({ res }) => sendJson(res, 200, []),
  '/extensions': ({ res }) => sendJson(res, 200, []),
  '/models': ({ res }) => sendJson(res, 200, ['checkpoints', 'loras', 'vae']),
  '/view': view,
  '/sim/executions': ({ sim, res }) => sendJson(res, 200, sim.executions),
  '/sim/wire': ({ sim, res }) => sendJson(res, 200, sim.wireStats),
  '/sim/views': ({ sim, res }) => sendJson(res, 200, Object.fromEntries(sim.viewed)),
  '/sim/history-reads': ({ sim, res }) => sendJson(res, 200, Object.fromEntries(sim.historyReads)),
  '/sim/models': ({ sim, res }) => sendJson(res, 200, sim.executor.models),
};

const POST: Record<string, Handler> = {
  '/prompt': postPrompt,
  '/queue': (c) => postQueueOrHistory(c, 'queue'),
  '/history': (c) => postQueueOrHistory(c, 'history'),
  '/interrupt': interrupt,
  '/free': free,
  '/upload/image': upload,
};

/** Routes with one path parameter: prefix → handler given the rest of the path. */
const GET_PREFIXED: Record<string, Handler> = {
  '/history/': ({ sim, res, tail }) => {
    sim.historyReads.set(tail, (sim.historyReads.get(tail) ?? 0) + 1);
    const entry = sim.history.get(tail);
    sendJson(res, 200, entry ? { [tail]: entry } : {});
  },
  '/object_info/': ({ sim, res, tail }) => {
    const info = sim.objectInfo()[tail];
    sendJson(res, 200, null, objectInfoJson(info ? { [tail]: info } : {}));
  },
  '/models/': ({ res, tail }) =>
    tail === 'checkpoints'
      ? sendJson(res, 200, CHECKPOINTS)
      : ['loras', 'vae'].includes(tail)
        ? sendJson(res, 200, [])
        : sendEmpty(res, 404),
};

/**
 * `POST /sim/echo` (any method but GET/HEAD): the request body streamed back
 * as it arrives, chunked, with its content type; the request line and
 * headers as the simulator received them in `X-Sim-Request` (URI-encoded JSON).
 */
function echo({ req, res }: Ctx) {
  const seen = { method: req.method, url: req.url, headers: req.headers };
  res.writeHead(200, {
    'Content-Type': req.headers['content-type'] ?? 'application/octet-stream',
    'X-Sim-Request': encodeURIComponent(JSON.stringify(seen)),
  });
  req.pipe(res);
}

export async function route(sim: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim');
  let path = url.pathname;
  if (path === '/sim/echo' && req.method !== 'GET' && req.method !== 'HEAD')
    return echo({ sim, req, res, url, tail: '' });
  const uiFile = sim.webUi?.get(path === '/index.html' ? '/' : path);
  if (uiFile && (req.method === 'GET' || req.method === 'HEAD')) return serveWebUiFile(req, res, uiFile);
  if (path === '/api/jobs' && req.method === 'GET') {
    const a = simJobs(sim, url.searchParams);
    return sendJson(res, a.status, a.body);
  }
  if (path.startsWith('/api/')) path = path.slice(4);
  const method = req.method ?? 'GET';
  const ctx: Ctx = { sim, req, res, url, tail: '' };
  try {
    if (method === 'OPTIONS') return sendEmpty(res);
    const exact = (method === 'GET' || method === 'HEAD' ? GET : method === 'POST' ? POST : {})[path];
    if (exact) return await exact(ctx);
    if (method === 'GET') {
      for (const [prefix, h] of Object.entries(GET_PREFIXED)) {
        if (path.startsWith(prefix) && path.length > prefix.length) {
          ctx.tail = decodeURIComponent(path.slice(prefix.length));
          return await h(ctx);
        }
      }
    }
    if (GET[path] || POST[path]) return methodNotAllowed(res);
    notFound(res);
  } catch {
    if (!res.headersSent) serverError(res);
  }
}

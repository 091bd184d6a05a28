/**
 * Random requests over every route of a running comfy-queue, and the rules
 * every answer must keep: never a 5xx from comfy-queue's own routes, and a 4xx
 * always in the documented shape. Shared by the fuzz test and the soak bench.
 */
import { Agent, request } from 'node:http';
import fc from 'fast-check';
import type { RouteEntry } from '../../src/api/route-index.js';
import { ERROR_CATALOG } from '../../src/domain/errors.js';
import { t2iPrompt } from './harness.js';

export interface FuzzRequest {
  method: string;
  /** the route template the path was made from */
  template: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface FuzzAnswer {
  status: number;
  contentType: string;
  text: string;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The pass-through to workers: whatever a worker answers is passed on as it is. */
export const PASS_THROUGH = new Set(['/*', '/']);

/** ComfyUI's routes answered by comfy-queue answer in ComfyUI's error shapes (docs/comfyui-compat.md). */
export function comfyShaped(template: string): boolean {
  return !/^\/(api\/(pqueue|admin|events)|dashboard|extensions\/comfy-queue)(\/|$)/.test(template);
}

const QUERY_KEYS = [
  'limit',
  'offset',
  'max_items',
  'cursor',
  'after',
  'status',
  'sort',
  'sort_by',
  'sort_order',
  'order',
  'q',
  'since',
  'until',
  'flagged',
  'worker',
  'workflow_id',
  'id',
  'node',
  'index',
  'max',
  'filename',
  'subfolder',
  'type',
  'clientId',
  'token',
  'total',
];

const hugeInt = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String);
const word = fc.constantFrom(
  'pending',
  'in_progress',
  'completed',
  'failed',
  'cancelled',
  'asc',
  'desc',
  'created_at',
  'ended_at',
  'execution_duration',
  'true',
  'false',
  'output',
  'input',
  'temp',
  '',
  '..',
  '../../etc/passwd',
  'null',
);
const value = fc.oneof(
  fc.integer({ min: -5, max: 2000 }).map(String),
  hugeInt,
  word,
  fc.string({ maxLength: 12 }),
);

function segment(ids: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    ids.length ? fc.constantFrom(...ids) : fc.uuid(),
    fc.uuid(),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
    fc.constantFrom('%', '%zz', '%E0%A4%A', '..', 'a'.repeat(300), 'x.png', 'index.html'),
  );
}

function fillTemplate(template: string, ids: readonly string[]): fc.Arbitrary<string> {
  const parts = template.split('/');
  return fc
    .tuple(...parts.map((p) => (p.startsWith(':') || p === '*' ? segment(ids) : fc.constant(p))))
    .map((ps) => ps.join('/') || '/');
}

function jsonBody(ids: readonly string[]): fc.Arbitrary<unknown> {
  const id = ids.length ? fc.oneof(fc.constantFrom(...ids), fc.uuid()) : fc.uuid();
  const loose = fc.jsonValue({ maxDepth: 3 });
  return fc.oneof(
    loose,
    fc.record(
      {
        prompt: fc.oneof(fc.constant(t2iPrompt(1, 3)), loose),
        prompt_id: fc.oneof(id, loose),
        prompt_ids: fc.oneof(fc.array(id, { maxLength: 3 }), loose),
        job_ids: fc.oneof(fc.array(id, { maxLength: 3 }), loose),
        priority: fc.oneof(fc.integer(), hugeInt.map(Number), loose),
        name: fc.oneof(fc.string({ maxLength: 40 }), loose),
        client_id: fc.oneof(fc.string({ maxLength: 10 }), loose),
        front: fc.oneof(fc.boolean(), loose),
        clear: fc.oneof(fc.boolean(), loose),
        delete: fc.oneof(fc.array(id, { maxLength: 3 }), loose),
        flagged: fc.oneof(fc.boolean(), loose),
        new_seed: fc.oneof(fc.boolean(), loose),
        filter: fc.oneof(
          fc.record({ status: word, q: fc.string({ maxLength: 8 }), since: value }, { requiredKeys: [] }),
          loose,
        ),
        workflow: loose,
        extra_data: loose,
        partial_execution_targets: fc.oneof(fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), loose),
      },
      { requiredKeys: [] },
    ),
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'image/png',
];

/** One random request over `routes`; `ids` are job ids that exist, so that routes reach real jobs. */
export function fuzzRequest(
  routes: readonly RouteEntry[],
  ids: readonly string[],
  origin: string,
): fc.Arbitrary<FuzzRequest> {
  const templates = [...new Set(routes.map((r) => r.url))].sort();
  return fc
    .record({
      template: fc.constantFrom(...templates),
      method: fc.oneof(
        { weight: 3, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      query: fc.dictionary(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 })), value, {
        maxKeys: 4,
      }),
      body: fc.option(
        fc.oneof(
          { weight: 4, arbitrary: jsonBody(ids).map((v) => JSON.stringify(v) ?? 'null') },
          { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
          { weight: 1, arbitrary: fc.constantFrom('', '{', '[1,', '{"a":1}}', 'null', '"x"', '\u0000') },
        ),
        { nil: undefined },
      ),
      contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
      origin: fc.constantFrom(undefined, undefined, origin, 'http://evil.example'),
    })
    .chain((r) =>
      fillTemplate(r.template, ids).map((path) => {
        const own = routes.filter((x) => x.url === r.template).map((x) => x.method);
        const method = r.method || own[0] || 'GET';
        const qs = new URLSearchParams(r.query).toString();
        const headers: Record<string, string> = {};
        if (r.origin) headers.origin = r.origin;
        const body = method === 'GET' || method === 'HEAD' ? undefined : r.body;
        if (body !== undefined) headers['content-type'] = r.contentType ?? 'application/json';
        return { method, template: r.template, path: qs ? `${path}?${qs}` : path, headers, body };
      }),
    );
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

export function send(base: string, r: FuzzRequest): Promise<FuzzAnswer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    // Node's client frames no body of a DELETE unless told its length.
    const headers =
      r.body === undefined
        ? r.headers
        : { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) };
    const req = request(
      { hostname: u.hostname, port: u.port, path: r.path, method: r.method, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Whether the request reached a route comfy-queue answers itself (not the pass-through to workers). */
export function ownRoute(routes: readonly RouteEntry[], r: FuzzRequest): boolean {
  if (PASS_THROUGH.has(r.template)) return false;
  return routes.some((x) => x.url === r.template && x.method === r.method);
}

/** What is wrong with an answer, or null. */
export function violation(routes: readonly RouteEntry[], r: FuzzRequest, a: FuzzAnswer): string | null {
  // What no route of comfy-queue takes goes to a worker, except under comfy-queue's own prefixes.
  const passedThrough = !ownRoute(routes, r) && !/^\/api\/(pqueue|events|admin)(\/|\?|$)/.test(r.path);
  if (a.status >= 500) {
    if (passedThrough) return null; // a worker's own answer, or 502 when none answers
    // A checkout where `npm run build` has not run: the state of the machine, not a fault.
    const notBuilt =
      r.method === 'HEAD' ? /^\/(dashboard|extensions)\//.test(r.path) : a.text.includes('"NOT_BUILT"');
    if (a.status === 503 && notBuilt) return null;
    return `${a.status} from comfy-queue: ${a.text.slice(0, 200)}`;
  }
  if (a.status < 400 || r.method === 'HEAD') return null;
  if (passedThrough && !/json/.test(a.contentType)) return null; // a worker's own refusal
  let body: any;
  try {
    body = JSON.parse(a.text);
  } catch {
    return `${a.status} with a body that is not JSON: ${a.text.slice(0, 80)}`;
  }
  if (!body || typeof body !== 'object' || !('error' in body)) return `${a.status} without "error"`;
  const e = body.error;
  if (typeof e === 'object' && e !== null && typeof e.code === 'string') {
    const known = ERROR_CATALOG[e.code as keyof typeof ERROR_CATALOG];
    if (!known) return `unknown error code ${e.code}`;
    if (typeof e.message !== 'string' || !e.message) return `${e.code} without a message`;
    if (known.status !== a.status) return `${e.code} answered ${a.status}, catalogued ${known.status}`;
    return null;
  }
  // ComfyUI's own shapes are for its routes only.
  if (comfyShaped(r.template)) return null;
  return `${a.status} not in the {"error":{"code","message"}} shape: ${a.text.slice(0, 80)}`;
}

/**
 * The pure half of the pass-through proxy: what is sent to the worker for a
 * request, whatever its request line says. The connection always goes to the
 * chosen worker's host and port; here the request target becomes a path on
 * that worker (never another host), comfy-queue's own credentials are
 * removed, and hop-by-hop headers are dropped.
 */

/** Headers of one connection, never forwarded (RFC 9110 §7.6.1), plus comfy-queue's own. */
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
  'x-comfy-queue-token',
]);

/**
 * The path (with query) to request from the worker for `rawUrl` as it came
 * on the request line; null for anything but origin-form (`/path?query`):
 * an absolute-form target names a host of its own, an asterisk names none.
 * `basePath` is the worker URL's own path ("/" or "/comfy/"). With a token,
 * `token` query parameters are comfy-queue's credential and are dropped.
 */
export function forwardPath(rawUrl: string, basePath: string, stripToken: boolean): string | null {
  if (!rawUrl.startsWith('/')) return null;
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  let query = q < 0 ? '' : rawUrl.slice(q + 1);
  if (stripToken && query) {
    query = query
      .split('&')
      .filter((pair) => queryKey(pair) !== 'token')
      .join('&');
  }
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  return `${base}${path}${query ? `?${query}` : ''}`;
}

function queryKey(pair: string): string {
  const eq = pair.indexOf('=');
  const key = eq < 0 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/**
 * The headers to send upstream, as Node's raw `[name, value, …]` list so
 * repeated headers and their order survive. Host becomes the worker's; a
 * present Origin becomes the worker's own origin (a loopback ComfyUI answers
 * 403 when Origin does not match its Host; whether the caller's origin may
 * act at all is decided before this); with a token, Authorization is
 * comfy-queue's credential and is dropped.
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  worker: { host: string; origin: string },
  dropAuth: boolean,
): string[] {
  const out: string[] = [];
  const connectionTokens = connectionListed(raw);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens.has(lower)) continue;
    if (lower === 'sec-fetch-site' || lower === 'origin') continue;
    if (dropAuth && lower === 'authorization') continue;
    out.push(name, raw[i + 1]!);
  }
  out.push('Host', worker.host);
  if (raw.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'origin')) out.push('Origin', worker.origin);
  return out;
}

/** The worker's response headers to pass back, as a raw list. */
export function downstreamResponseHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  const connectionTokens = connectionListed(raw);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens.has(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** Header names a `Connection` header lists: hop-by-hop for this message too. */
function connectionListed(raw: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) {
      const n = t.trim().toLowerCase();
      if (n) names.add(n);
    }
  }
  return names;
}

/** Whether the response to this request and status carries a body at all. */
export function hasResponseBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && !(status >= 100 && status < 200);
}

/**
 * Whether a request may act, judged from where it says it comes from. Pure.
 *
 * Two attacks reach a server on the loopback address from a web page the
 * person merely visits: a cross-site request (a form or a fetch with a
 * "simple" content type is sent without a CORS preflight, and its effect
 * happens even though the page cannot read the answer), and DNS rebinding (a
 * name of the attacker's that resolves to 127.0.0.1, so that the page's own
 * origin reaches comfy-queue and can read it too). The first shows in
 * Origin (or Sec-Fetch-Site), the second in Host. ComfyUI refuses the same
 * requests (403 when Origin does not match a loopback Host).
 */

export interface OriginPolicy {
  /** the address the server listens on: a loopback one turns on the Host check */
  bindHost: string;
  /** origins whose pages may act (--allow-origin), as `scheme://host[:port]` */
  allowOrigins: readonly string[];
  /** Host names accepted besides the loopback ones (--allow-host), with or without a port */
  allowHosts: readonly string[];
}

export interface RequestFacts {
  method: string;
  host?: string | undefined;
  origin?: string | undefined;
  secFetchSite?: string | undefined;
  /** the request asks to become a websocket (Upgrade: websocket) */
  websocket: boolean;
}

export type OriginVerdict =
  | { allowed: true }
  | { allowed: false; code: 'FORBIDDEN_ORIGIN' | 'FORBIDDEN_HOST'; message: string };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A loopback name or address: localhost, 127.0.0.0/8, ::1 (brackets and a final dot allowed). */
export function isLoopbackName(name: string): boolean {
  let h = name.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === 'localhost' || h === '::1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return Boolean(m?.slice(1).every((o) => Number(o) <= 255));
}

/** `name[:port]` of a Host header, the name lowercased (IPv6 kept in brackets); null when malformed. */
export function parseHost(header: string): { name: string; port: string | null } | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m) return null;
  return { name: m[1]!.toLowerCase(), port: m[2] ?? null };
}

/** Normalises an --allow-host entry (a name, or name:port); null when it is not one. */
export function normaliseAllowedHost(entry: string): string | null {
  const h = parseHost(entry);
  if (!h || h.name.replace(/\.$/, '') === '') return null;
  return h.port === null ? h.name : `${h.name}:${h.port}`;
}

function defaultPort(scheme: string): string {
  return scheme === 'https:' || scheme === 'wss:' ? '443' : '80';
}

function hostAllowed(host: string | undefined, policy: OriginPolicy): boolean {
  if (!isLoopbackName(policy.bindHost)) return true;
  // HTTP/1.0 without Host: not a browser (browsers always send it), so not a rebinding attack.
  if (host === undefined) return true;
  const h = parseHost(host);
  if (!h) return false;
  if (isLoopbackName(h.name)) return true;
  const allowed = policy.allowHosts.map((a) => a.toLowerCase());
  const bare = h.name.replace(/\.$/, '');
  return allowed.some(
    (a) =>
      a === h.name ||
      a === bare ||
      (h.port !== null && (a === `${h.name}:${h.port}` || a === `${bare}:${h.port}`)),
  );
}

/** The origin is the one the request was sent to: same name and port as Host (the scheme is not in Host). */
function sameOrigin(origin: URL, host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = parseHost(host);
  if (!h) return false;
  const scheme = origin.protocol;
  const originPort = origin.port || defaultPort(scheme);
  return origin.hostname.toLowerCase() === h.name && originPort === (h.port ?? defaultPort(scheme));
}

function originAllowed(facts: RequestFacts, policy: OriginPolicy): boolean {
  const raw = facts.origin;
  if (raw === undefined) {
    // Without Origin, a browser's Sec-Fetch-Site still tells a page of another site; scripts send neither.
    const site = facts.secFetchSite?.toLowerCase();
    return site !== 'cross-site' && site !== 'same-site';
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false; // "null" (sandboxed frames, file:// pages) or garbage: not the server's own page
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (policy.allowOrigins.some((o) => o.replace(/\/+$/, '') === url.origin)) return true;
  return sameOrigin(url, facts.host);
}

export function judgeRequest(facts: RequestFacts, policy: OriginPolicy): OriginVerdict {
  if (!hostAllowed(facts.host, policy)) {
    return {
      allowed: false,
      code: 'FORBIDDEN_HOST',
      message: `Host "${String(facts.host).slice(0, 200)}" is not a loopback name of this server; list it with --allow-host if it is yours.`,
    };
  }
  const acts = facts.websocket || !SAFE_METHODS.has(facts.method.toUpperCase());
  if (acts && !originAllowed(facts, policy)) {
    const from = facts.origin ?? `a ${facts.secFetchSite} page`;
    return {
      allowed: false,
      code: 'FORBIDDEN_ORIGIN',
      message: `${facts.websocket ? 'A websocket' : `${facts.method} requests`} from ${String(from).slice(0, 200)} may not reach this server; list the origin with --allow-origin if it is yours.`,
    };
  }
  return { allowed: true };
}

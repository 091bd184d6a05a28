/**
 * Small HTTP helpers that reproduce aiohttp's answers as ComfyUI sends them:
 * JSON with `application/json; charset=utf-8`, empty 200s as
 * `application/octet-stream`, plain-text 404/405/500 pages, and ComfyUI's
 * origin check (comfyui-protocol.md §1.2).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, raw?: string): void {
  const text = raw ?? JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 });
  res.end();
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export const notFound = (res: ServerResponse) => sendText(res, 404, '404: Not Found');
export const methodNotAllowed = (res: ServerResponse) => sendText(res, 405, '405: Method Not Allowed');
/** What aiohttp answers when a handler raises (bad JSON on /prompt, non-integer max_items, ...). */
export const serverError = (res: ServerResponse) =>
  sendText(res, 500, '500 Internal Server Error\n\nServer got itself in trouble');

export async function readBody(req: IncomingMessage, limit = 100 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('body too large');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Thrown where ComfyUI's `await request.json()` would raise: the route answers 500. */
export class BadJson extends Error {}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadJson('invalid JSON');
  }
}

function hostPart(hostPort: string): { host: string; port: string | null } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort.toLowerCase());
  return m ? { host: m[1] ?? '', port: m[2] ?? null } : { host: hostPort.toLowerCase(), port: null };
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * ComfyUI's origin_only_middleware: 403 when the Host is a loopback name and
 * the Origin's host differs from it (ports compared only when both have one).
 */
export function originForbidden(req: IncomingMessage): boolean {
  const host = req.headers.host;
  const origin = req.headers.origin;
  if (!host || !origin) return false;
  let originHostPort: string;
  try {
    originHostPort = new URL(origin).host;
  } catch {
    return false;
  }
  const h = hostPart(host);
  const o = hostPart(originHostPort);
  if (!isLoopback(h.host)) return false;
  const hostCmp = o.port === null ? h.host : h.port === null ? h.host : `${h.host}:${h.port}`;
  const originCmp = h.port === null ? o.host : o.port === null ? o.host : `${o.host}:${o.port}`;
  return hostCmp.length > 0 && originCmp.length > 0 && hostCmp !== originCmp;
}

/** Python's int() of a query parameter; null when it would raise. */
export function pyInt(s: string): number | null {
  const t = s.trim();
  return /^[+-]?\d+(_\d+)*$/.test(t) ? Number(t.replace(/_/g, '')) : null;
}

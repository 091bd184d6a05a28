/**
 * A small stand-in for ComfyUI's web frontend: an index.html, a JavaScript
 * bundle of a few MB and a stylesheet, served the way ComfyUI serves its
 * frontend (aiohttp's FileResponse: ETag and Last-Modified, 304 on a
 * revalidation, single byte ranges, HEAD), so that passing a whole UI through
 * a proxy can be tested byte for byte. The bundle's bytes are deterministic.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface WebUiFile {
  path: string;
  contentType: string;
  bytes: Buffer;
  etag: string;
  lastModified: string;
}

const BUNDLE = '/assets/index-sim.js';
const STYLES = '/assets/index-sim.css';
const MTIME = Date.UTC(2026, 5, 1, 12, 0, 0);

function bundle(size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update('comfyui-sim-bundle').digest();
  let at = 0;
  const head = Buffer.from('/* simulated ComfyUI frontend bundle */\nwindow.__simBundle = true;\n');
  at += head.copy(out, 0);
  while (at < size) {
    // Printable, so the bundle is valid text: a comment of hex digits.
    const line = Buffer.from(`// ${block.toString('hex')}\n`);
    at += line.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

function file(path: string, contentType: string, bytes: Buffer): WebUiFile {
  return {
    path,
    contentType,
    bytes,
    // aiohttp's ETag: the file's mtime in ns and size, in hex.
    etag: `"${(BigInt(MTIME) * 1_000_000n).toString(16)}-${bytes.length.toString(16)}"`,
    lastModified: new Date(MTIME).toUTCString(),
  };
}

export function buildWebUi(bundleBytes: number): Map<string, WebUiFile> {
  const index = Buffer.from(
    [
      '<!doctype html>',
      '<html lang="en">',
      '<head>',
      '<meta charset="UTF-8">',
      '<title>ComfyUI</title>',
      `<script type="module" crossorigin src="${BUNDLE.slice(1)}"></script>`,
      `<link rel="stylesheet" crossorigin href="${STYLES.slice(1)}">`,
      '</head>',
      '<body class="litegraph grid"><div id="vue-app"></div></body>',
      '</html>',
      '',
    ].join('\n'),
  );
  const css = Buffer.from(
    `${Array.from({ length: 400 }, (_, i) => `.sim-rule-${i} { margin: ${i % 17}px; color: #${(i * 2654435761).toString(16).slice(-6).padStart(6, '0')}; }`).join('\n')}\n`,
  );
  const files = [
    file('/', 'text/html', index),
    file(BUNDLE, 'application/javascript', bundle(bundleBytes)),
    file(STYLES, 'text/css', css),
  ];
  return new Map(files.map((f) => [f.path, f]));
}

/** One `bytes=a-b` range of a file of `size` bytes; null = serve it whole; 'bad' = 416. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'bad';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'bad';
  return { start, end };
}

/** Answers a GET or HEAD of a frontend file as aiohttp's FileResponse does. */
export function serveWebUiFile(req: IncomingMessage, res: ServerResponse, f: WebUiFile): void {
  const headers: Record<string, string | number> = {
    'Content-Type': f.contentType,
    ETag: f.etag,
    'Last-Modified': f.lastModified,
    'Accept-Ranges': 'bytes',
  };
  // ComfyUI marks index.html no-cache so a new frontend is picked up at once.
  if (f.path === '/') headers['Cache-Control'] = 'no-cache';
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const notModified =
    inm !== undefined
      ? inm.split(',').some((t) => t.trim() === f.etag || t.trim() === '*')
      : ims !== undefined && Date.parse(ims) >= Date.parse(f.lastModified);
  if (notModified) {
    res.writeHead(304, { ETag: f.etag, 'Last-Modified': f.lastModified });
    res.end();
    return;
  }
  const range = parseRange(req.headers.range, f.bytes.length);
  if (range === 'bad') {
    res.writeHead(416, { 'Content-Range': `bytes */${f.bytes.length}`, 'Content-Length': 0 });
    res.end();
    return;
  }
  const body = range ? f.bytes.subarray(range.start, range.end + 1) : f.bytes;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${f.bytes.length}`;
  headers['Content-Length'] = body.length;
  res.writeHead(range ? 206 : 200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A front for s3rver that checks every request's AWS Signature Version 4 as
 * S3 does, since s3rver itself checks only the access key of a V4 request.
 * Written apart from src/outputs/s3/sigv4.ts, from the request as it arrives
 * on the wire: the path is decoded and encoded again the way S3 does, the
 * signed headers are read as received, the body's SHA-256 is compared with
 * x-amz-content-sha256. A request that fails gets S3's 403 with its error
 * code; one that passes goes on to s3rver (without its Authorization, as an
 * anonymous request). It can be stopped and started again on the same port,
 * to play an S3 that is down for a while.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface S3Front {
  url: string;
  /** requests whose signature was checked and found right */
  verified: number;
  /** the error codes of the requests refused */
  refused: string[];
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();

function s3Encode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function check(
  req: IncomingMessage,
  body: Buffer,
  keys: Record<string, string>,
  region: string,
  now: number,
): string | null {
  const auth = req.headers.authorization;
  if (!auth) return 'AccessDenied';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return 'AuthorizationHeaderMalformed';
  const [, keyId, day, scopeRegion, signedList, signature] = m as unknown as string[];
  const secret = keys[keyId!];
  if (secret === undefined) return 'InvalidAccessKeyId';
  if (scopeRegion !== region) return 'AuthorizationHeaderMalformed';
  const signed = signedList!.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return 'AccessDenied';
  const date = String(req.headers['x-amz-date'] ?? '');
  if (!date.startsWith(day!)) return 'SignatureDoesNotMatch';
  const at = Date.parse(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`,
  );
  if (!(Math.abs(now - at) < 15 * 60_000)) return 'RequestTimeTooSkewed';
  const payload = String(req.headers['x-amz-content-sha256'] ?? '');
  if (payload !== 'UNSIGNED-PAYLOAD' && payload !== hex(body)) return 'XAmzContentSHA256Mismatch';
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname
    .split('/')
    .map((seg) => s3Encode(decodeURIComponent(seg)))
    .join('/');
  const query = [...url.searchParams.entries()]
    .map(([k, v]) => `${s3Encode(k)}=${s3Encode(v)}`)
    .sort()
    .join('&');
  const headers = signed
    .map((h) => {
      const v = req.headers[h];
      return `${h}:${(Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/ +/g, ' ')}\n`;
    })
    .join('');
  const canonical = [req.method, path, query, headers, signedList, payload].join('\n');
  const toSign = `AWS4-HMAC-SHA256\n${date}\n${day}/${region}/s3/aws4_request\n${hex(canonical)}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day!), region), 's3'), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === signature
    ? null
    : 'SignatureDoesNotMatch';
}

export async function startS3Front(
  s3rverUrl: string,
  keys: Record<string, string>,
  region: string,
): Promise<S3Front> {
  const backend = new URL(s3rverUrl);
  let server: Server | null = null;
  let port = 0;
  const sockets = new Set<Socket>();
  const front: S3Front = {
    url: '',
    verified: 0,
    refused: [],
    async start() {
      const s = createServer((req, res) => void handle(req, res));
      s.on('connection', (sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
      });
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
      port = (s.address() as AddressInfo).port;
      front.url = `http://127.0.0.1:${port}`;
      server = s;
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    close: () => front.stop(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const code = check(req, body, keys, region, Date.now());
    if (code) {
      front.refused.push(code);
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>refused by the test's SigV4 check</Message></Error>`,
      );
      return;
    }
    front.verified++;
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = request(
      { hostname: backend.hostname, port: backend.port, method: req.method, path: req.url, headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      res.writeHead(502);
      res.end(e.message);
    });
    up.end(body);
  }

  await front.start();
  return front;
}

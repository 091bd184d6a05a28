/**
 * A small S3 client: PUT an object from a local file and GET one as a
 * stream, signed with SigV4 (sigv4.ts). With an endpoint (MinIO, R2,
 * Wasabi...) it addresses buckets path-style (`<endpoint>/<bucket>/<key>`);
 * without, AWS's virtual-hosted style (`https://<bucket>.s3.<region>.amazonaws.com/<key>`).
 */
import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { S3Settings } from '../collect-target.js';
import { EMPTY_SHA256, encodeKeyPath, signRequest } from './sigv4.js';

/** S3 answered with an error (its XML `Code`), or could not be reached (`status` 0). */
export class S3Error extends Error {
  override name = 'S3Error';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface S3ClientOptions {
  now(): number;
  /** a request without an answer for this long fails */
  timeoutMs: number;
}

export class S3Client {
  constructor(
    private readonly s3: S3Settings,
    private readonly opts: S3ClientOptions,
  ) {}

  /** The URL of an object (its key below the configured prefix). */
  objectUrl(key: string): URL {
    const full = this.s3.prefix ? `${this.s3.prefix}/${key}` : key;
    const path = encodeKeyPath(full);
    if (this.s3.endpoint) return new URL(`${this.s3.endpoint}/${this.s3.bucket}/${path}`);
    if (this.s3.bucket.includes('.'))
      return new URL(`https://s3.${this.s3.region}.amazonaws.com/${this.s3.bucket}/${path}`);
    return new URL(`https://${this.s3.bucket}.s3.${this.s3.region}.amazonaws.com/${path}`);
  }

  /** Uploads a local file as the object `key`; `sha256` is the file's hex SHA-256. */
  async putFile(
    key: string,
    file: string,
    bytes: number,
    sha256: string,
    contentType: string,
  ): Promise<void> {
    const url = this.objectUrl(key);
    const res = await this.send(
      'PUT',
      url,
      { 'content-type': contentType, 'content-length': String(bytes) },
      sha256,
      () => createReadStream(file),
    );
    await expectOk(res, `PUT ${url.pathname}`);
    res.resume();
  }

  /** The object `key` as a stream, or null when there is none (404). */
  async get(key: string): Promise<{ body: Readable; bytes: number | null } | null> {
    const url = this.objectUrl(key);
    const res = await this.send('GET', url, {}, EMPTY_SHA256, null);
    if (res.statusCode === 404) {
      res.resume();
      return null;
    }
    await expectOk(res, `GET ${url.pathname}`);
    const length = Number(res.headers['content-length']);
    return { body: res, bytes: Number.isFinite(length) ? length : null };
  }

  private send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    payloadHash: string,
    body: (() => Readable) | null,
  ): Promise<IncomingMessage> {
    const signed = signRequest({
      method,
      path: url.pathname,
      headers: { ...headers, host: url.host },
      payloadHash,
      region: this.s3.region,
      credentials: this.s3,
      now: this.opts.now(),
    });
    const options: RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: signed.headers,
      timeout: this.opts.timeoutMs,
    };
    return new Promise((resolve, reject) => {
      const fail = (e: Error) =>
        reject(
          e instanceof S3Error ? e : new S3Error(0, 'Unreachable', `${method} ${url.origin}: ${e.message}`),
        );
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(options, resolve);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`)));
      req.on('error', fail);
      if (!body) {
        req.end();
        return;
      }
      const stream = body();
      stream.on('error', (e) => req.destroy(e));
      stream.pipe(req);
    });
  }
}

async function expectOk(res: IncomingMessage, what: string): Promise<void> {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return;
  let text = '';
  for await (const chunk of res) {
    if (text.length < 4000) text += (chunk as Buffer).toString('utf8');
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP${status}`;
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
  throw new S3Error(status, code, `${what}: ${status} ${code}${message ? ` (${message})` : ''}`);
}

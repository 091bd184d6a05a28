/**
 * HTTP calls to one ComfyUI server, over http:// or https://. Answers are
 * outside data: each is checked for the shape the caller relies on, and
 * anything else is a ComfyError. Every call has a timeout: a worker that stops
 * answering (frozen, half-dead network) fails the call instead of holding it.
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { PromptGraph } from '../domain/job.js';

export interface ComfyClientOptions {
  /** a call fails when the worker sends nothing for this long (default 30 s) */
  timeoutMs?: number;
  /** a CA certificate (PEM) trusted for an https:// worker, besides the bundled ones */
  ca?: string | null;
}

/** The CA list for a worker's TLS: the bundled roots plus `ca`, or node's defaults (NODE_EXTRA_CA_CERTS included) when none. */
export function tlsCa(ca: string | null | undefined): string[] | undefined {
  return ca ? [...rootCertificates, ca] : undefined;
}

export class ComfyUnreachableError extends Error {
  override name = 'ComfyUnreachableError';
}

export class ComfyHttpError extends Error {
  override name = 'ComfyHttpError';
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

export interface PostPromptBody {
  prompt: PromptGraph;
  client_id: string;
  prompt_id: string;
  extra_data: Record<string, unknown>;
  partial_execution_targets?: string[];
}

export type PostPromptResult =
  | { ok: true; promptId: string; number: number; nodeErrors: unknown }
  /** ComfyUI refused the prompt (validation); body is its error answer */
  | { ok: false; status: number; body: unknown };

export interface HistoryEntry {
  prompt?: unknown[];
  outputs?: Record<string, Record<string, unknown>>;
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] };
  meta?: unknown;
}

export interface QueueSnapshot {
  running: string[];
  pending: string[];
}

interface RawResponse {
  status: number;
  text: string;
}

/** One keep-alive agent per client: dispatch makes many small calls to the same server. */
export class ComfyClient {
  private readonly agent: HttpAgent;
  private readonly base: URL;
  private readonly https: boolean;
  readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    opts: ComfyClientOptions = {},
  ) {
    this.base = new URL(baseUrl);
    this.https = this.base.protocol === 'https:';
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.agent = this.https
      ? new HttpsAgent({ keepAlive: true, maxSockets: 8, ca: tlsCa(opts.ca) })
      : new HttpAgent({ keepAlive: true, maxSockets: 8 });
  }

  close(): void {
    this.agent.destroy();
  }

  async systemStats(timeoutMs?: number): Promise<Record<string, unknown>> {
    return this.getJson('/system_stats', timeoutMs);
  }

  async objectInfo(): Promise<Record<string, unknown>> {
    return this.getJson('/object_info');
  }

  async postPrompt(body: PostPromptBody): Promise<PostPromptResult> {
    const res = await this.send('POST', '/prompt', JSON.stringify(body));
    const json = parseJson(res.text);
    if (res.status === 200) {
      const o = json as { prompt_id?: unknown; number?: unknown; node_errors?: unknown } | null;
      if (!o || typeof o.prompt_id !== 'string') {
        throw new ComfyHttpError(res.status, json, 'ComfyUI answered /prompt without a prompt_id');
      }
      return {
        ok: true,
        promptId: o.prompt_id,
        number: Number(o.number ?? 0),
        nodeErrors: o.node_errors ?? {},
      };
    }
    if (res.status >= 400 && res.status < 500)
      return { ok: false, status: res.status, body: json ?? res.text };
    throw new ComfyHttpError(
      res.status,
      json ?? res.text,
      `ComfyUI answered /prompt with HTTP ${res.status}`,
    );
  }

  /** The history entry of one prompt, or null when ComfyUI has none (yet). */
  async history(promptId: string): Promise<HistoryEntry | null> {
    const json = await this.getJson(`/history/${encodeURIComponent(promptId)}`);
    const entry = (json as Record<string, unknown>)[promptId];
    return entry && typeof entry === 'object' ? (entry as HistoryEntry) : null;
  }

  /** ComfyUI's queue; `timeoutMs` overrides the client's (the liveness probe is quicker to give up). */
  async queue(timeoutMs?: number): Promise<QueueSnapshot> {
    const json = (await this.getJson('/queue', timeoutMs)) as {
      queue_running?: unknown;
      queue_pending?: unknown;
    };
    const ids = (v: unknown): string[] =>
      Array.isArray(v) ? v.map((item) => (Array.isArray(item) ? String(item[1]) : '')).filter(Boolean) : [];
    return { running: ids(json.queue_running), pending: ids(json.queue_pending) };
  }

  async interrupt(promptId?: string): Promise<void> {
    const res = await this.send(
      'POST',
      '/interrupt',
      JSON.stringify(promptId ? { prompt_id: promptId } : {}),
    );
    if (res.status !== 200)
      throw new ComfyHttpError(res.status, res.text, `ComfyUI /interrupt: HTTP ${res.status}`);
  }

  async deleteFromQueue(ids: string[]): Promise<void> {
    const res = await this.send('POST', '/queue', JSON.stringify({ delete: ids }));
    if (res.status !== 200)
      throw new ComfyHttpError(res.status, res.text, `ComfyUI /queue: HTTP ${res.status}`);
  }

  /** The bytes of a file the worker produced (GET /view); ComfyHttpError when it answers otherwise than 200. */
  async view(
    file: { filename: string; subfolder: string; type: string },
    maxBytes = 128 * 1024 * 1024,
  ): Promise<Buffer> {
    const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    const path = `${this.base.pathname.replace(/\/$/, '')}/view?${q.toString()}`;
    return new Promise((resolve, reject) => {
      const req = this.request({ path, method: 'GET', agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new Error(`the file is larger than ${maxBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          if (res.statusCode === 200) resolve(body);
          else
            reject(
              new ComfyHttpError(
                res.statusCode ?? 0,
                body.toString('utf8', 0, 500),
                `ComfyUI /view: HTTP ${res.statusCode}`,
              ),
            );
        });
        res.on('error', (e) => reject(new ComfyUnreachableError(`${this.baseUrl}/view: ${e.message}`)));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(new ComfyUnreachableError(`${this.baseUrl}/view: ${e.message}`)));
      req.end();
    });
  }

  private request(opts: RequestOptions, onResponse: (res: IncomingMessage) => void) {
    const all = {
      ...opts,
      protocol: this.base.protocol,
      hostname: this.base.hostname,
      port: this.base.port,
    };
    return this.https ? httpsRequest(all, onResponse) : httpRequest(all, onResponse);
  }

  private async getJson(path: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    const res = await this.send('GET', path, undefined, timeoutMs);
    const json = parseJson(res.text);
    if (res.status !== 200 || !json || typeof json !== 'object') {
      throw new ComfyHttpError(res.status, json ?? res.text, `ComfyUI ${path}: HTTP ${res.status}`);
    }
    return json as Record<string, unknown>;
  }

  private send(
    method: string,
    path: string,
    body?: string,
    timeoutMs = this.timeoutMs,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        {
          path: this.base.pathname.replace(/\/$/, '') + path,
          method,
          agent: this.agent,
          timeout: timeoutMs,
          headers:
            body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (e) => reject(new ComfyUnreachableError(`${this.baseUrl}${path}: ${e.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new ComfyUnreachableError(`${this.baseUrl}${path}: ${e.message}`)));
      req.end(body);
    });
  }
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: the callers treat null as "not the answer expected" and say so with the raw text.
    return null;
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { transcriptsDir } from '../fixtures/transcripts.js';

/** The recorded ComfyUI traffic (test/fixtures/comfyui-transcripts), with a trailing slash. */
export const TRANSCRIPTS = join(transcriptsDir(), '/');

export type Frame =
  | { kind: 'text'; type: string; data: Record<string, unknown> }
  | { kind: 'binary'; eventType: number; buf: Buffer };

export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  /** Resolves with the first frame (from index `from`) matching `pred`. */
  waitFor(pred: (f: Frame) => boolean, from?: number): Promise<Frame>;
  close(): Promise<void>;
}

export const isText =
  (type: string, pred: (d: Record<string, unknown>) => boolean = () => true) =>
  (f: Frame) =>
    f.kind === 'text' && f.type === type && pred(f.data);

export const finished = (promptId: string) =>
  isText('executing', (d) => d.node === null && d.prompt_id === promptId);

export async function openSocket(
  baseUrl: string,
  clientId?: string,
  opts: { featureFlags?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<TestSocket> {
  const q = clientId === undefined ? '' : `?clientId=${encodeURIComponent(clientId)}`;
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws${q}`, { headers: opts.headers });
  const frames: Frame[] = [];
  const waiters: { pred: (f: Frame) => boolean; from: number; resolve: (f: Frame) => void }[] = [];
  ws.on('message', (data: Buffer, isBinary) => {
    const f: Frame = isBinary
      ? { kind: 'binary', eventType: data.readUInt32BE(0), buf: data }
      : (() => {
          const m = JSON.parse(data.toString()) as { type: string; data: Record<string, unknown> };
          return { kind: 'text' as const, type: m.type, data: m.data };
        })();
    frames.push(f);
    for (const w of [...waiters]) {
      if (frames.length - 1 >= w.from && w.pred(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      if (opts.featureFlags) ws.send(JSON.stringify({ type: 'feature_flags', data: opts.featureFlags }));
      resolve();
    });
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    waitFor(pred, from = 0) {
      const hit = frames.slice(from).find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ pred, from, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === ws.CLOSED) return resolve();
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
}

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  return res.json();
}

export function readTranscriptJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(TRANSCRIPTS + name, 'utf8')) as T;
}

export interface RecordedFrame {
  dir: string;
  kind?: string;
  type?: string;
  data?: Record<string, unknown>;
  event_type?: number;
  metadata?: Record<string, unknown>;
  event?: string;
}

export function readWs(name: string): RecordedFrame[] {
  return readFileSync(TRANSCRIPTS + name, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RecordedFrame);
}

/** Token per incoming frame: the text type, or `bin:N`. */
export function recordedTokens(frames: RecordedFrame[]): string[] {
  return frames
    .filter((f) => f.dir === 'in')
    .map((f) => (f.kind === 'binary' ? `bin:${f.event_type}` : (f.type ?? '?')));
}

export const tokens = (frames: Frame[]) =>
  frames.map((f) => (f.kind === 'binary' ? `bin:${f.eventType}` : f.type));

/** Key structure of a value: objects by their keys, arrays by their first element; values ignored. */
export function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? ['array', shape(v[0])] : ['array'];
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, shape(o[k])]),
    );
  }
  return typeof v;
}

/** Collapses each run of sampler-step frames (progress_state, previews, progress, text) into one `STEPS`. */
export function collapseSteps(toks: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < toks.length; ) {
    let j = i;
    let steps = 0;
    while (toks[j] === 'progress_state') {
      let k = j + 1;
      if (toks[k] === 'bin:4') k++;
      if (toks[k] !== 'progress') break;
      k++;
      while (toks[k] === 'bin:1' || toks[k] === 'bin:3') k++;
      j = k;
      steps++;
    }
    if (steps > 0) {
      if (out.at(-1) !== 'STEPS') out.push('STEPS');
      i = j;
    } else {
      out.push(toks[i]!);
      i++;
    }
  }
  return out;
}

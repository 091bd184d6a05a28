/**
 * Starting real servers for tests: the simulator and comfy-queue, either in
 * this process or as child processes (to kill them), plus small HTTP helpers
 * and waiters that resolve on a state change instead of sleeping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_CONFIG, type RunningServer, type ServerConfig, startServer } from '../../src/server.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

export function tempDir(prefix = 'cq-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startTestServer(
  overrides: Partial<ServerConfig> & { comfyUrls: string[] },
): Promise<RunningServer & { dataDir: string }> {
  const dataDir = overrides.dataDir ?? tempDir().path;
  // Named w1, w2… in order, unless a test names them itself (NAME=URL).
  const comfyUrls = overrides.comfyUrls.map((u, i) => (/^[A-Za-z0-9._-]+=/.test(u) ? u : `w${i + 1}=${u}`));
  const server = await startServer({
    ...DEFAULT_CONFIG,
    port: 0,
    pollMs: 300,
    // Tests break things on purpose: only errors reach the test output.
    logLevel: 'error',
    ...overrides,
    comfyUrls,
    dataDir,
  });
  return { ...server, dataDir };
}

export interface ChildServer {
  url: string;
  proc: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `comfy-queue <args>` and resolves once it prints the line matching `ready`.
 * COMFY_QUEUE_SERVE_NODE_ARGS (space-separated) are given to node for `serve` only,
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a benchmark's server.
 */
export function spawnCli(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  const nodeArgs =
    args[0] === 'serve' ? (process.env.COMFY_QUEUE_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const proc = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = out.match(ready);
      if (m) {
        proc.stdout?.off('data', onData);
        proc.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
        });
        resolvePromise({
          url: m[1] ?? '',
          proc,
          output: () => out,
          async kill(signal: NodeJS.Signals = 'SIGKILL') {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            await exited;
          },
        });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.once('exit', (code) =>
      reject(new Error(`comfy-queue ${args[0]} exited (${code}) before ready:\n${out}`)),
    );
  });
}

export function spawnSim(port = 0, extra: string[] = []): Promise<ChildServer> {
  return spawnCli(['sim', '--port', String(port), ...extra], /listening on (http:\/\/\S+)/);
}

export function spawnServe(args: string[]): Promise<ChildServer> {
  return spawnCli(['serve', '--port', '0', ...args], /comfy-queue listening on (http:\/\/\S+)/);
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export async function http<T = any>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed as T, text };
}

/** Polls `probe` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function waitForStatus(
  base: string,
  id: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<any> {
  return until(
    async () => {
      const r = await http('GET', `${base}/api/pqueue/jobs/${id}`);
      return r.status === 200 && statuses.includes(r.body.status) ? r.body : undefined;
    },
    `job ${id} to reach ${statuses.join('|')}`,
    timeoutMs,
  );
}

export interface SimExecution {
  prompt_id: string;
  start: number;
  end: number | null;
  outcome: string | null;
}

export async function simExecutions(simUrl: string): Promise<SimExecution[]> {
  const r = await http<SimExecution[]>('GET', `${simUrl}/sim/executions`);
  return r.body;
}

/** A small text-to-image graph the simulator knows; `steps` sampler steps of the simulator's step time. */
export function t2iPrompt(steps = 2, seed = 1, prefix = 'ComfyUI'): Record<string, unknown> {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'v1-5-pruned-emaonly.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed,
        steps,
        cfg: 7,
        sampler_name: 'euler',
        scheduler: 'normal',
        denoise: 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
      },
    },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: prefix, images: ['8', 0] } },
  };
}

export function newId(): string {
  return randomUUID();
}

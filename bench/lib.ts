/** Shared pieces of the benchmarks: percentiles, a keep-alive HTTP client, child servers. */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** A minimal POST/GET over a keep-alive agent: fetch's own overhead would blur sub-millisecond figures. */
export function send(method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `total` calls of `fn` with `concurrency` in flight, returning each call's latency in ms. */
export async function runConcurrent(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  return latencies;
}

/** The smallest graph the simulator runs: an empty image inverted and saved. */
export function tinyPrompt(seed: number): Record<string, unknown> {
  return {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: seed % 16777216 } },
    '2': { class_type: 'ImageInvert', inputs: { image: ['1', 0] } },
    '3': { class_type: 'SaveImage', inputs: { images: ['2', 0], filename_prefix: 'bench' } },
  };
}

/** CPU time (user + system) of one /proc stat line, in ms (100 ticks per second). */
function statCpuMs(stat: string): number {
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after "pid (comm) ".
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time a process has used so far, in ms (Linux /proc). */
export function cpuMs(pid: number | undefined): number {
  return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * CPU time a Node process has used so far, in ms, split by thread: the main
 * thread (the event loop), libvips's threads, the busiest other thread (in
 * the server, the store's thread: Node does not name it apart from the
 * others), and the rest (libuv's pool, where file writes and image work run,
 * and V8's garbage-collection helpers).
 */
export function threadCpuMs(pid: number | undefined): {
  main: number;
  store: number;
  vips: number;
  rest: number;
} {
  const split = { main: 0, store: 0, vips: 0, rest: 0 };
  const others: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ms = statCpuMs(stat);
    if (String(pid) === tid) split.main = ms;
    else if (name.startsWith('libvips')) split.vips += ms;
    else others.push(ms);
  }
  others.sort((a, b) => b - a);
  split.store = others.shift() ?? 0;
  split.rest = others.reduce((a, b) => a + b, 0);
  return split;
}

/** Resident memory of a process, in MB (Linux /proc). */
export function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/**
 * Makes a store file with `make(file)`, or copies the one made before: with
 * `cacheDir` (a benchmark's BENCH_*_SEED_CACHE) it is kept there as `name`
 * for the next run, since seeding a million jobs takes minutes.
 */
export async function seededFile(
  file: string,
  name: string,
  cacheDir: string | undefined,
  make: (file: string) => Promise<void>,
): Promise<void> {
  if (!cacheDir) return make(file);
  const cached = join(cacheDir, name);
  if (!existsSync(cached)) {
    mkdirSync(cacheDir, { recursive: true });
    await make(cached);
  }
  copyFileSync(cached, file);
}

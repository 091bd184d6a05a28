/**
 * Remote agents: 20 `comfy-queue agent` processes, each in front of its own
 * simulated ComfyUI, working for one server. Printed:
 * - enqueue → the agent's POST /prompt (the simulator's gate), p50/p99, one
 *   job at a time (no job waits for a busy agent);
 * - claims per second: 1,000 jobs enqueued at once, from the first enqueue to
 *   the last job completed, and enqueue → POST /prompt under that load;
 * - one agent process's resident memory and CPU while idle, and while
 *   relaying the progress and previews of a long job.
 * BENCH_AGENT_TRANSPORT=http runs the agents over HTTP long-poll instead of
 * the websocket (ws, the default), for the same figures.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONFIG, startServer } from '../src/server.js';
import { type RunningSimulator, startSimulator } from '../src/sim/index.js';
import { spawnAgent } from '../test/helpers/agents.js';
import { type ChildServer, t2iPrompt, tempDir } from '../test/helpers/harness.js';
import { fmt, percentile, send, tinyPrompt } from './lib.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 20);
const JOBS = Number(process.env.BENCH_AGENT_JOBS ?? 1000);
const ONE_AT_A_TIME = Number(process.env.BENCH_AGENT_LATENCY_JOBS ?? 200);
const TOKEN = 'bench-agents';
const durability = process.env.BENCH_DURABILITY === 'normal' ? 'NORMAL' : 'FULL';
const TRANSPORT = process.env.BENCH_AGENT_TRANSPORT === 'http' ? 'http' : 'ws';

const submitted = new Map<string, number>();
let onSubmit: (() => void) | null = null;
const sims: RunningSimulator[] = [];
for (let i = 0; i < AGENTS; i++) {
  sims.push(
    await startSimulator({
      // The first one is slower: its long job relays progress for a while.
      stepMs: i === 0 ? 5 : 0,
      promptGate: (id, stage) => {
        if (stage !== 'before-queue') return;
        submitted.set(id, performance.now());
        onSubmit?.();
      },
    }),
  );
}
const dir = tempDir('cq-bench-agents-');
const server = await startServer({
  ...DEFAULT_CONFIG,
  port: 0,
  logLevel: 'error',
  dataDir: join(dir.path, 'data'),
  comfyUrls: [],
  token: TOKEN,
  synchronous: durability,
});
const api = (method: string, path: string, body?: unknown) =>
  send(method, `${server.url}${path}${path.includes('?') ? '&' : '?'}token=${TOKEN}`, body);

const agents: ChildServer[] = [];
try {
  for (let i = 0; i < AGENTS; i++) {
    agents.push(
      await spawnAgent([
        '--server',
        server.url,
        '--enroll',
        TOKEN,
        '--comfy',
        sims[i]!.url,
        '--name',
        `a${i + 1}`,
        ...(i === 0 ? ['--tags', 'first'] : []),
        '--data',
        join(dir.path, `agent${i + 1}`),
        '--transport',
        TRANSPORT,
      ]),
    );
  }
  for (;;) {
    const list = JSON.parse((await api('GET', '/api/farm/workers')).text).workers as {
      state: string;
      capabilities: unknown;
    }[];
    if (list.length === AGENTS && list.every((w) => w.state === 'online' && w.capabilities)) break;
    await new Promise((r) => setTimeout(r, 50));
  }

  const enqueue = async (prompt: Record<string, unknown>, extra: object = {}) => {
    const r = await api('POST', '/api/pqueue/jobs', { prompt, ...extra });
    if (r.status !== 201) throw new Error(`enqueue ${r.status}: ${r.text}`);
    return JSON.parse(r.text).prompt_id as string;
  };
  const waitIdle = async () => {
    for (;;) {
      const c = JSON.parse((await api('GET', '/api/admin/queue?limit=1')).text).counts;
      if (c.pending + c.in_progress === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  // 1. Latency, one job at a time.
  const single: number[] = [];
  for (let i = 0; i < ONE_AT_A_TIME; i++) {
    const t0 = performance.now();
    const seen = () => new Promise<void>((resolve) => (onSubmit = resolve));
    let wait = seen();
    const id = await enqueue(tinyPrompt(i));
    while (!submitted.has(id)) {
      await wait;
      wait = seen();
    }
    single.push(submitted.get(id)! - t0);
    await waitIdle();
  }
  single.sort((a, b) => a - b);

  // 2. Throughput: every job at once.
  const sent = new Map<string, number>();
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: JOBS }, async (_, i) => {
      const at = performance.now();
      const id = await enqueue(tinyPrompt(100_000 + i));
      sent.set(id, at);
      return id;
    }),
  );
  await waitIdle();
  const elapsed = (performance.now() - t0) / 1000;
  const loaded = ids.map((id) => submitted.get(id)! - sent.get(id)!).sort((a, b) => a - b);
  const jobs = JSON.parse((await api('GET', '/api/farm/workers')).text).workers as {
    id: string;
    stats: { completed: number };
  }[];
  const spread = jobs.map((w) => w.stats.completed).sort((a, b) => a - b);

  // 3. One agent's footprint: idle, then relaying a long job's progress and previews.
  const pid = agents[0]!.proc.pid!;
  const sample = async (ms: number) => {
    const cpu = () => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
    };
    const c0 = cpu();
    const s0 = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    const share = (cpu() - c0) / 100 / ((performance.now() - s0) / 1000);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    return { cpu: share * 100, rss };
  };
  const idle = await sample(3_000);
  const longJob = await enqueue(t2iPrompt(1_000, 5), { requires: ['first'] });
  while (!submitted.has(longJob)) await new Promise((r) => setTimeout(r, 10));
  const busy = await sample(3_000);
  await waitIdle();

  console.log(
    `remote agents: ${AGENTS} agent processes over ${TRANSPORT === 'http' ? 'HTTP long-poll' : 'websockets'}, one simulated ComfyUI each (${durability})`,
  );
  console.log(
    `  enqueue → agent's POST /prompt, ${ONE_AT_A_TIME} jobs one at a time: p50 ${fmt(percentile(single, 50))} ms, p99 ${fmt(percentile(single, 99))} ms`,
  );
  console.log(
    `  ${JOBS} jobs at once: ${fmt(elapsed)} s, ${fmt(JOBS / elapsed, 0)} claims/s (jobs claimed, run and recorded); ` +
      `enqueue → POST /prompt p50 ${fmt(percentile(loaded, 50))} ms, p99 ${fmt(percentile(loaded, 99))} ms`,
  );
  console.log(`  jobs per agent: min ${spread[0]}, max ${spread[spread.length - 1]}`);
  console.log(`  one agent idle: RSS ${fmt(idle.rss, 1)} MiB, CPU ${fmt(idle.cpu, 1)} %`);
  console.log(
    `  one agent relaying progress and previews: RSS ${fmt(busy.rss, 1)} MiB, CPU ${fmt(busy.cpu, 1)} %`,
  );
} finally {
  for (const a of agents) await a.kill('SIGTERM');
  await server.close();
  for (const s of sims) await s.close();
  dir.remove();
}
process.exit(0);

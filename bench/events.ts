/**
 * The event websocket under load: 4 simulated workers stream progress and a
 * preview per sampler step to 100 dashboard clients.
 *
 * - latency: from the simulator sending a preview frame to each client
 *   receiving it (previews are relayed unthrottled, so this is the relay's own
 *   cost; progress text is held to one push per 150 ms per job by design).
 *   The simulators and the clients live in this process, so both ends read the
 *   same clock; comfy-queue runs as a child process.
 * - CPU: the child's user+system time per second of wall time
 *   (/proc/<pid>/stat), with 100 clients connected and with none.
 * - BENCH_DISPATCH_RATE=N: meanwhile, N zero-step jobs per second are
 *   offered to a fifth simulator (a child process, tagged `fast`; the four
 *   above are tagged `slow`), and the rate really dispatched is printed.
 *
 *   npm run bench -- events      (BENCH_CLIENTS, BENCH_SECONDS, BENCH_STEP_MS to change the load)
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startSimulator } from '../src/sim/index.js';
import { EventClient } from '../test/helpers/event-client.js';
import {
  type ChildServer,
  simExecutions,
  spawnServe,
  spawnSim,
  t2iPrompt,
  tempDir,
} from '../test/helpers/harness.js';
import { fmt, percentile, send, tinyPrompt } from './lib.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 50);
const WORKERS = 4;
const DISPATCH_RATE = Number(process.env.BENCH_DISPATCH_RATE ?? 0);

/** When each preview left a simulator, by a key of its image bytes. */
const sentAt = new Map<string, number>();
const keyOf = (image: Buffer) => `${image.length}:${image.subarray(-24).toString('hex')}`;
const originalSend = WebSocket.prototype.send;
WebSocket.prototype.send = function patched(this: WebSocket, data: unknown, ...rest: unknown[]) {
  if (Buffer.isBuffer(data) && data.length > 8 && data.readUInt32BE(0) === 4) {
    const n = data.readUInt32BE(4);
    sentAt.set(keyOf(data.subarray(8 + n)), performance.now());
  }
  return (originalSend as (...a: unknown[]) => void).call(this, data, ...rest);
} as typeof WebSocket.prototype.send;

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime), counted from the state field (3): clock ticks of 10 ms on Linux.
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function measureCpu(pid: number, seconds: number): Promise<number> {
  const c0 = cpuMs(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((cpuMs(pid) - c0) / (performance.now() - t0)) * 1000;
}

/** Tags the simulators' workers `slow` and adds a zero-step simulator tagged `fast`. */
async function addFastWorker(serverUrl: string): Promise<ChildServer> {
  const listed = JSON.parse((await send('GET', `${serverUrl}/api/farm/workers`)).text) as {
    workers: { id: string }[];
  };
  for (const w of listed.workers) {
    const r = await send('PATCH', `${serverUrl}/api/farm/workers/${encodeURIComponent(w.id)}`, {
      tags: ['slow'],
    });
    if (r.status !== 200) throw new Error(`tag ${w.id}: ${r.status} ${r.text}`);
  }
  const fast = await spawnSim(0, ['--step-ms', '0']);
  const r = await send('POST', `${serverUrl}/api/farm/workers`, {
    url: fast.url,
    name: 'fast',
    tags: ['fast'],
    capacity: 4,
  });
  if (r.status !== 201) throw new Error(`add the fast worker: ${r.status} ${r.text}`);
  return fast;
}

/** Offers `rate` zero-step jobs per second for the fast worker until `stop` says so (10 ms ticks). */
async function offerJobs(serverUrl: string, rate: number, stop: () => boolean): Promise<void> {
  let seed = 0;
  const t0 = performance.now();
  while (!stop()) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) - seed;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < Math.min(due, 200); i++)
      sends.push(
        send('POST', `${serverUrl}/api/pqueue/jobs`, { prompt: tinyPrompt(seed++), requires: ['fast'] }),
      );
    await Promise.all(sends);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const data = tempDir('cq-bench-events-');
  const sims = await Promise.all(Array.from({ length: WORKERS }, () => startSimulator({ stepMs: STEP_MS })));
  const server = await spawnServe([
    '--data',
    data.path,
    '--worker-capacity',
    '1',
    ...sims.flatMap((s) => ['--comfy', s.url]),
  ]);
  const pid = server.proc.pid!;
  const fast = DISPATCH_RATE > 0 ? await addFastWorker(server.url) : null;
  try {
    // Enough sampling to outlast both windows on every worker.
    const steps = Math.ceil(((SECONDS * 2 + 10) * 1000) / STEP_MS);
    for (let i = 0; i < WORKERS * 2; i++) {
      const r = await send('POST', `${server.url}/api/pqueue/jobs`, {
        prompt: t2iPrompt(steps, i + 1),
        ...(fast ? { requires: ['slow'] } : {}),
      });
      if (r.status !== 201) throw new Error(`enqueue: ${r.status} ${r.text}`);
    }
    const probe = await EventClient.connect(server.url);
    await probe.waitFor((x) => x.kind === 'preview', 'the first preview', 60_000);
    await probe.close();
    // Let every worker reach its sampler.
    await new Promise((r) => setTimeout(r, 1000));
    const idleCpu = await measureCpu(pid, SECONDS);

    const latencies: number[] = [];
    const progressGaps: number[] = [];
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => EventClient.connect(server.url)));
    const lastProgress = new Map<string, number>();
    clients.forEach((c, ci) => {
      c.ws.on('message', (d, isBinary) => {
        const now = performance.now();
        const buf = d as Buffer;
        if (isBinary) {
          const n = buf.readUInt32BE(4);
          const t = sentAt.get(keyOf(buf.subarray(8 + n)));
          if (t !== undefined) latencies.push(now - t);
        } else if (ci === 0) {
          const m = JSON.parse(buf.toString());
          if (m.type === 'progress') {
            const prev = lastProgress.get(m.job_id);
            if (prev !== undefined) progressGaps.push(now - prev);
            lastProgress.set(m.job_id, now);
          }
        }
      });
      c.received.length = 0;
    });
    await Promise.all(clients.map((c) => c.waitFor((x) => x.kind === 'text', 'snapshot')));
    latencies.length = 0;
    let stopOffer = false;
    const ran0 = fast ? (await simExecutions(fast.url)).length : 0;
    const offering = fast ? offerJobs(server.url, DISPATCH_RATE, () => stopOffer) : null;
    const w0 = performance.now();
    const busyCpu = await measureCpu(pid, SECONDS);
    const dispatched = fast
      ? ((await simExecutions(fast.url)).length - ran0) / ((performance.now() - w0) / 1000)
      : 0;
    stopOffer = true;
    await offering;
    const lat = [...latencies].sort((a, b) => a - b);
    const gaps = [...progressGaps].sort((a, b) => a - b);
    await Promise.all(clients.map((c) => c.close()));

    console.log(
      `events: ${WORKERS} workers at ${STEP_MS} ms/step, ${CLIENTS} dashboard clients, ${SECONDS} s windows`,
    );
    console.log(
      `  preview relay latency, simulator send → client receipt (${lat.length} receipts): ` +
        `p50 ${fmt(percentile(lat, 50))} ms, p99 ${fmt(percentile(lat, 99))} ms, max ${fmt(lat.at(-1) ?? Number.NaN)} ms`,
    );
    console.log(
      `  progress pushes seen by one client: ${gaps.length + lastProgress.size}, ` +
        `gap between pushes of one job min ${fmt(gaps[0] ?? Number.NaN)} ms, p50 ${fmt(percentile(gaps, 50))} ms`,
    );
    console.log(
      `  server CPU: ${fmt(busyCpu, 0)} ms/s with ${CLIENTS} clients, ${fmt(idleCpu, 0)} ms/s with none`,
    );
    if (fast)
      console.log(
        `  meanwhile ${fmt(dispatched, 0)} jobs/s dispatched to the fast worker (${DISPATCH_RATE}/s offered)`,
      );
  } finally {
    await server.kill('SIGTERM');
    await fast?.kill('SIGTERM');
    await Promise.all(sims.map((s) => s.close()));
    data.remove();
  }
}

await main();

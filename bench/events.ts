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
 *
 *   npm run bench -- events      (BENCH_CLIENTS, BENCH_SECONDS, BENCH_STEP_MS to change the load)
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startSimulator } from '../src/sim/index.js';
import { EventClient } from '../test/helpers/event-client.js';
import { spawnServe, t2iPrompt, tempDir } from '../test/helpers/harness.js';
import { fmt, percentile, send } from './lib.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 50);
const WORKERS = 4;

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
  try {
    // Enough sampling to outlast both windows on every worker.
    const steps = Math.ceil(((SECONDS * 2 + 10) * 1000) / STEP_MS);
    for (let i = 0; i < WORKERS * 2; i++) {
      const r = await send('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(steps, i + 1) });
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
    const busyCpu = await measureCpu(pid, SECONDS);
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
  } finally {
    await server.kill('SIGTERM');
    await Promise.all(sims.map((s) => s.close()));
    data.remove();
  }
}

await main();

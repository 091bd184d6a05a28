/**
 * Seed 001's `.incomplete` marker: while ComfyUI executes a job, comfy-queue
 * keeps a file `.incomplete-<prompt_id>` in each folder the job saves to
 * (`<worker output dir>/<filename_prefix folder>/`), so that after a crash
 * half-written outputs can be told from finished ones. It needs the worker's
 * output folder on a file system comfy-queue can write (`--comfy-output`);
 * docs/admin.md has the convention.
 *
 * Written on the job's `execution_start` (a job handed over but still waiting
 * in ComfyUI's queue has written nothing), removed when the job finishes in
 * any way. A job released because its worker lost it keeps its marker: the
 * worker may have died mid-write; the run that follows rewrites it and removes
 * it at the end.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Job } from '../domain/job.js';
import { outputFolders } from '../domain/job-card.js';
import type { Engine } from '../engine/engine.js';
import { type Logger, silentLogger } from '../logging/logger.js';

export const MARKER_PREFIX = '.incomplete-';

/** Where the markers of `job` go under `outputDir`; folders that would leave it are skipped. */
export function markerPaths(outputDir: string, job: Pick<Job, 'id' | 'prompt'>): string[] {
  const root = resolve(outputDir);
  const paths: string[] = [];
  for (const folder of outputFolders(job.prompt)) {
    const dir = resolve(root, folder);
    const rel = relative(root, dir);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) continue;
    paths.push(join(dir, `${MARKER_PREFIX}${job.id}`));
  }
  return paths;
}

export class IncompleteMarkers {
  /** per job, the marker operations in order (a write still running when the job ends is removed after it) */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly written = new Map<string, string[]>();

  constructor(
    private readonly engine: Engine,
    /** worker id → its output folder */
    private readonly outputDirs: ReadonlyMap<string, string>,
    private readonly now: () => number,
    private readonly log: Logger = silentLogger,
  ) {
    engine.onFrame((worker, jobId, frame) => {
      if (!jobId || frame.kind !== 'text' || frame.message.type !== 'execution_start') return;
      const dir = this.outputDirs.get(worker);
      if (dir) this.chain(jobId, () => this.write(jobId, worker, dir));
    });
    engine.bus.subscribe((e) => {
      if (e.type === 'job.finished') this.chain(e.job.id, () => this.remove(e.job));
    });
  }

  /** Resolves once every marker operation started so far is done (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  private chain(jobId: string, op: () => Promise<void>): void {
    const next = (this.chains.get(jobId) ?? Promise.resolve()).then(op).catch((err: Error) => {
      // Safe: a marker is advice for people after a crash; the job itself is unaffected.
      this.log.warn({ job: jobId, err }, `.incomplete marker: ${err.message}`);
    });
    this.chains.set(jobId, next);
    void next.then(() => {
      if (this.chains.get(jobId) === next) this.chains.delete(jobId);
    });
  }

  private async write(jobId: string, worker: string, dir: string): Promise<void> {
    const job = await this.engine.store.get(jobId);
    if (job?.status !== 'in_progress') return;
    const paths = markerPaths(dir, job);
    const body = `${JSON.stringify({ prompt_id: job.id, worker, started_at: this.now() })}\n`;
    for (const p of paths) {
      await mkdir(resolve(p, '..'), { recursive: true });
      await writeFile(p, body);
    }
    this.written.set(jobId, paths);
  }

  private async remove(job: Job): Promise<void> {
    const paths = new Set(this.written.get(job.id) ?? []);
    // Markers written before a restart are found from the graph.
    if (job.worker) {
      const dir = this.outputDirs.get(job.worker);
      if (dir) for (const p of markerPaths(dir, job)) paths.add(p);
    }
    this.written.delete(job.id);
    await Promise.all([...paths].map((p) => rm(p, { force: true })));
  }
}

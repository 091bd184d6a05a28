/**
 * A brute-force model of queue order: every job in an array, positions by
 * the documented rules computed with linear scans, order by sorting with
 * compareQueueOrder. The property test holds each store against it.
 */
import { compareQueueOrder, type Job, type JobStatus, type NewJob } from '../../../src/domain/job.js';

type ModelJob = Pick<Job, 'id' | 'priority' | 'position' | 'createdAt' | 'status'>;

/**
 * How a store numbers an appended job: one past the highest position of any
 * job (SQLite), or the next value of a sequence that never goes back, even
 * when a reorder moved the highest job down (PostgreSQL).
 */
export type AppendRule = 'after-max' | 'sequence';

export class OrderModel {
  readonly jobs: ModelJob[] = [];
  /** the last appended position (the sequence) */
  private last = 0;

  constructor(private readonly append: AppendRule = 'after-max') {}

  private find(id: string): ModelJob | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  /** Pending and in_progress jobs: a job held by a worker may come back to its place. */
  private minPending(priority: number): number | null {
    const ps = this.jobs
      .filter((j) => (j.status === 'pending' || j.status === 'in_progress') && j.priority === priority)
      .map((j) => j.position);
    return ps.length ? Math.min(...ps) : null;
  }

  pending(): ModelJob[] {
    return this.jobs
      .filter((j) => j.status === 'pending')
      .sort((a, b) => compareQueueOrder(a as Job, b as Job));
  }

  /** Returns false for a duplicate id. */
  enqueue(job: NewJob): boolean {
    if (this.find(job.id)) return false;
    const min = job.front ? this.minPending(job.priority) : null;
    const max = this.jobs.length ? Math.max(...this.jobs.map((j) => j.position)) : 0;
    const appended = this.append === 'sequence' ? this.last + 1 : max + 1;
    const position = min !== null ? min - 1 : appended;
    if (min === null) this.last = appended;
    this.jobs.push({
      id: job.id,
      priority: job.priority,
      position,
      createdAt: job.createdAt,
      status: 'pending',
    });
    return true;
  }

  setStatus(id: string, from: JobStatus, to: JobStatus): boolean {
    const j = this.find(id);
    if (j?.status !== from) return false;
    j.status = to;
    return true;
  }

  setPriority(id: string, priority: number): boolean {
    const j = this.find(id);
    if (j?.status !== 'pending') return false;
    j.priority = priority;
    return true;
  }

  claim(exclude: readonly string[]): string | null {
    const next = this.pending().find((j) => !exclude.includes(j.id));
    if (!next) return null;
    next.status = 'in_progress';
    return next.id;
  }

  reorder(ids: readonly string[]): number {
    const listed = [...new Set(ids)].map((id) => this.find(id)).filter((j) => j?.status === 'pending');
    const priorities = [...new Set(listed.map((j) => j!.priority))];
    for (const p of priorities) {
      const group = listed.filter((j) => j!.priority === p);
      const min = this.minPending(p)!;
      group.forEach((j, i) => {
        j!.position = min - group.length + i;
      });
    }
    return listed.length;
  }
}

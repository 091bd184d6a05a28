/**
 * The jobs an agent holds, kept in its data folder: after a restart the agent
 * reconciles each with its ComfyUI (queue, then history) and tells the server
 * what it holds, so that a copy whose job moved on meanwhile is interrupted.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../domain/job.js';

export class HeldJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly file: string;

  constructor(dir: string) {
    this.file = join(dir, 'jobs.json');
    if (!existsSync(this.file)) return;
    try {
      for (const job of JSON.parse(readFileSync(this.file, 'utf8')) as Job[]) this.jobs.set(job.id, job);
    } catch {
      // Written by rename: a torn file cannot happen; an unreadable one (edited by hand) holds nothing.
    }
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  put(job: Job): void {
    this.jobs.set(job.id, job);
    this.save();
  }

  remove(jobId: string, attempt: number): void {
    const job = this.jobs.get(jobId);
    if (!job || job.attempts !== attempt) return;
    this.jobs.delete(jobId);
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.list()));
    renameSync(tmp, this.file);
  }
}

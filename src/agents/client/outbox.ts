/**
 * The agent's outbox: every report and job event gets a sequence number in
 * this process's session and stays here until the server acknowledges it.
 * Reports are written to disk before they count as made (the driver forgets
 * the job once its report is accepted), and so is everything while the agent
 * is disconnected; after a reconnect, or a restart of the agent, what the
 * server has not acknowledged is sent again, in order, and the server skips
 * what it already took: each message counts at most once.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope, SequencedMessage } from '../protocol.js';

interface Entry extends Envelope {
  /** written to the file */
  onDisk: boolean;
}

/** Events kept at most while disconnected; the oldest progress frames go first (reports always stay). */
const MAX_ENTRIES = 20_000;
/** The file is rewritten with only what is unacknowledged once it holds this many lines. */
const COMPACT_LINES = 2_000;

export class Outbox {
  readonly session = randomUUID();
  private seq = 0;
  private entries: Entry[] = [];
  private lines = 0;
  private readonly acked = new Map<string, number>();
  private readonly file: string;

  /** what the server acknowledged of the entries still in the file, per session */
  private readonly ackedFile: string;

  constructor(dir: string) {
    this.file = join(dir, 'outbox.jsonl');
    this.ackedFile = join(dir, 'outbox.acked.json');
    if (!existsSync(this.file)) return;
    let acked: Record<string, number> = {};
    try {
      if (existsSync(this.ackedFile)) acked = JSON.parse(readFileSync(this.ackedFile, 'utf8'));
    } catch {
      // Written by rename: unreadable only if edited by hand; the server skips what it took anyway.
    }
    for (const [session, q] of Object.entries(acked)) this.acked.set(session, q);
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as Envelope;
        if (typeof e.s === 'string' && typeof e.q === 'number' && e.m && e.q > (acked[e.s] ?? 0))
          this.entries.push({ ...e, onDisk: true });
      } catch {
        // A line cut short by a crash mid-write: it was never reported as made.
      }
      this.lines++;
    }
  }

  /** Adds a message; `durable` writes it to disk before returning. */
  add(m: SequencedMessage, durable: boolean): Envelope {
    const e: Entry = { s: this.session, q: ++this.seq, m, onDisk: false };
    if (durable) this.write(e);
    this.entries.push(e);
    if (this.entries.length > MAX_ENTRIES) {
      const at = this.entries.findIndex((x) => x.m.t === 'frame');
      if (at >= 0) this.entries.splice(at, 1);
    }
    return { s: e.s, q: e.q, m: e.m };
  }

  /** Everything not yet acknowledged, in order. */
  unacked(): Envelope[] {
    return this.entries.map(({ s, q, m }) => ({ s, q, m }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The sessions of unacknowledged messages, this one first. */
  sessions(): string[] {
    return [this.session, ...new Set(this.entries.map((e) => e.s).filter((s) => s !== this.session))];
  }

  /** Whether a report of this claim waits here (the server will get it). */
  hasReport(job: string, attempt: number): boolean {
    return this.entries.some((e) => e.m.t !== 'frame' && e.m.job === job && e.m.attempt === attempt);
  }

  /** The server took everything of `session` up to `q`. */
  ack(session: string, q: number): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.s !== session || e.q > q);
    if (this.entries.length === before) return;
    if (!this.entries.some((e) => e.onDisk)) {
      if (this.lines > 0) writeFileSync(this.file, '');
      this.lines = 0;
    } else if (this.lines >= COMPACT_LINES) {
      const kept = this.entries.filter((e) => e.onDisk);
      writeFileSync(this.file, kept.map((e) => `${line(e)}\n`).join(''));
      this.lines = kept.length;
    } else {
      // Acknowledged entries stay in the file until it is rewritten: a restart must skip them.
      this.acked.set(session, Math.max(q, this.acked.get(session) ?? 0));
      this.writeAcked();
      return;
    }
    // The file holds no acknowledged entry any more.
    if (this.acked.size > 0) {
      this.acked.clear();
      this.writeAcked();
    }
  }

  private writeAcked(): void {
    const tmp = `${this.ackedFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.acked)));
    renameSync(tmp, this.ackedFile);
  }

  /** The connection dropped: what is only in memory goes to disk too (an agent restart replays it). */
  persistAll(): void {
    for (const e of this.entries) if (!e.onDisk) this.write(e);
  }

  private write(e: Entry): void {
    appendFileSync(this.file, `${line(e)}\n`);
    e.onDisk = true;
    this.lines++;
  }
}

function line(e: Entry): string {
  return JSON.stringify({ s: e.s, q: e.q, m: e.m });
}

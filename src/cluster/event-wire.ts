/**
 * What servers tell each other over NOTIFY (pure): events name jobs by id
 * (the receiver reads the job from the database, so it never sees a stale
 * copy), ComfyUI text frames go as they came, bigger things by a relay row.
 * Messages are packed into packets of at most NOTIFY_MAX_BYTES, in order.
 */
import type { QueueEvent, WorkerState } from '../engine/events.js';

export type JobEventType =
  | 'job.queued'
  | 'job.started'
  | 'job.updated'
  | 'job.finished'
  | 'job.released'
  | 'job.waiting';

export type WireMessage =
  | { t: 'job'; e: JobEventType; id: string; reason?: string; since?: number }
  | { t: 'deleted'; ids: string[] }
  /** a batch changed as a whole (created, paused, renamed…): its cached template is read again */
  | { t: 'batch'; id: number }
  | { t: 'reordered'; ids: string[] }
  | { t: 'paused' }
  | { t: 'resumed' }
  | { t: 'worker'; w: string; s: WorkerState; d?: string }
  | {
      t: 'collected';
      id: string;
      s: 'stored' | 'failed';
      files: { key: string; bytes: number }[];
      err: string | null;
    }
  /** a ComfyUI text frame of a job running on a worker of the sender */
  | { t: 'text'; w: string; j: string; raw: string }
  /** a binary frame (a live preview) of a job, kept in the relay table */
  | { t: 'bin'; w: string; j: string; r: number }
  /** a person cancelled a running job: the server that drives its worker interrupts it */
  | { t: 'cancel'; id: string }
  /** workers were added, changed or removed: read their records again */
  | { t: 'workers' }
  /** a message too big for a packet, kept in the relay table */
  | { t: 'big'; r: number };

export interface Packet {
  /** the sending server */
  o: string;
  m: WireMessage[];
}

/** ids per message of a long list (a mass delete), so that each fits a packet */
const IDS_PER_MESSAGE = 100;

/** The messages that carry an event of this server's bus (none for those others need not see). */
export function toWire(e: QueueEvent): WireMessage[] {
  switch (e.type) {
    case 'job.queued':
    case 'job.started':
    case 'job.updated':
    case 'job.finished':
      return [{ t: 'job', e: e.type, id: e.job.id }];
    case 'job.released':
      return [{ t: 'job', e: e.type, id: e.job.id, reason: e.reason.slice(0, 500) }];
    case 'job.waiting':
      return [{ t: 'job', e: e.type, id: e.job.id, reason: e.reason.slice(0, 500), since: e.since }];
    case 'job.deleted':
      return chunks(e.ids).map((ids) => ({ t: 'deleted', ids }));
    case 'batch.changed':
      return [{ t: 'batch', id: e.id }];
    case 'queue.reordered':
      // The receivers read the new order themselves; a long list is not worth sending.
      return [{ t: 'reordered', ids: e.ids.length <= IDS_PER_MESSAGE ? e.ids : [] }];
    case 'queue.paused':
      return [{ t: 'paused' }];
    case 'queue.resumed':
      return [{ t: 'resumed' }];
    case 'worker.state':
      return [{ t: 'worker', w: e.worker, s: e.state, ...(e.detail ? { d: e.detail.slice(0, 500) } : {}) }];
    case 'job.collected':
      return [{ t: 'collected', id: e.jobId, s: e.state, files: e.files, err: e.error }];
    case 'comfy.message':
      return [];
  }
}

function chunks(ids: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) out.push(ids.slice(i, i + IDS_PER_MESSAGE));
  return out;
}

/** The bytes a packet has besides its messages. */
export function packetOverhead(origin: string): number {
  return Buffer.byteLength(`{"o":${JSON.stringify(origin)},"m":[]}`);
}

/**
 * Packs messages (JSON texts), in order, into packets of at most `maxBytes`
 * each. Every message must fit a packet alone: the sender puts a bigger one
 * in the relay table and sends a `big` message in its place.
 */
export function pack(origin: string, messages: readonly string[], maxBytes: number): string[] {
  const head = `{"o":${JSON.stringify(origin)},"m":[`;
  const overhead = packetOverhead(origin);
  const packets: string[] = [];
  let parts: string[] = [];
  let size = overhead;
  for (const json of messages) {
    const bytes = Buffer.byteLength(json);
    if (bytes + overhead > maxBytes) throw new Error(`a message of ${bytes} bytes does not fit a packet`);
    if (parts.length > 0 && size + bytes + 1 > maxBytes) {
      packets.push(`${head}${parts.join(',')}]}`);
      parts = [];
      size = overhead;
    }
    parts.push(json);
    size += bytes + (parts.length > 1 ? 1 : 0);
  }
  if (parts.length > 0) packets.push(`${head}${parts.join(',')}]}`);
  return packets;
}

/** A packet as received, or null when it is not one of ours. */
export function unpack(payload: string): Packet | null {
  let p: unknown;
  try {
    p = JSON.parse(payload);
  } catch {
    return null;
  }
  const o = (p as Packet | null)?.o;
  const m = (p as Packet | null)?.m;
  if (typeof o !== 'string' || !Array.isArray(m)) return null;
  return { o, m: m.filter((x): x is WireMessage => typeof (x as { t?: unknown })?.t === 'string') };
}

/**
 * What an agent and the server say to each other over the agent's one
 * outbound connection (docs/farm.md): a websocket, or HTTP long-poll where
 * websockets are blocked (the same messages, in batches). Text messages are JSON objects with a
 * `t` field; binary messages carry a JSON header and bytes (a preview frame,
 * or a piece of a file the server asked for). Reports and job events travel
 * in a sequenced envelope (`{s, q, m}`: the agent's session, a sequence
 * number, the message) that the server acknowledges; the agent keeps each one
 * on disk until then and replays what is not acknowledged after a reconnect,
 * and the server skips what it has already taken, so each counts at most once.
 */
import type { Job } from '../domain/job.js';
import type { WorkerState } from '../engine/events.js';
import type { FinishPatch } from '../store/job-store.js';

/** The agent's websocket (GET with Upgrade; `Authorization: Bearer CREDENTIAL`). */
export const AGENT_CONNECT_PATH = '/api/farm/agent/connect';
/** Where an agent trades an enrollment token for its credential (POST). */
export const AGENT_ENROLL_PATH = '/api/farm/agent/enroll';
/**
 * HTTP long-poll, the same messages where websockets are blocked; every
 * request carries the credential as the websocket does.
 * - `POST AGENT_SESSIONS_PATH` opens a session (`SessionOpened`): the agent's
 *   connection until it ends, as a websocket would be;
 * - `GET AGENT_SESSIONS_PATH/{session}/messages?wait_ms=N` answers the
 *   server's messages (`PolledMessages`) as soon as there are some, else
 *   empty after at most `hold_ms`;
 * - `POST AGENT_SESSIONS_PATH/{session}/messages` carries a batch of the
 *   agent's messages, text and binary (`encodeBatch`, `BATCH_CONTENT_TYPE`);
 * - `DELETE AGENT_SESSIONS_PATH/{session}` ends it.
 * A session that ended (replaced, removed, quiet too long) answers
 * `410 AGENT_SESSION_ENDED`: the agent opens a new one and says hello again.
 */
export const AGENT_SESSIONS_PATH = '/api/farm/agent/sessions';
export const BATCH_CONTENT_TYPE = 'application/octet-stream';

export interface SessionOpened {
  session: string;
  /** the longest a GET of messages is held when there is nothing to send */
  hold_ms: number;
  /** how often the agent renews its leases; a session with no GET waiting for twice as long ends */
  ping_ms: number;
}

export interface PolledMessages {
  messages: ServerMessage[];
}

/** Paths that authenticate themselves (an enrollment token, an agent credential), not with the server's token. */
export const AGENT_PATH_PREFIX = '/api/farm/agent/';

/** A job held under one claim: its id and the attempt number of that claim (the fencing token). */
export interface JobClaim {
  id: string;
  attempt: number;
}

/** A file a job produced, as in its outputs. */
export interface FileRef {
  filename: string;
  subfolder: string;
  type: string;
}

// ---- agent → server -----------------------------------------------------

export interface HelloMessage {
  t: 'hello';
  version: string;
  capacity: number;
  tags: string[];
  /** its ComfyUI's state as its driver sees it */
  state: WorkerState;
  systemStats: Record<string, unknown> | null;
  /** the jobs it holds now */
  holding: JobClaim[];
  /** the sessions of its unacknowledged messages, its own first */
  sessions: string[];
}

/** A report or a job event: sequenced, kept until acknowledged. */
export type SequencedMessage =
  | { t: 'finished'; job: string; attempt: number; patch: FinishPatch }
  | { t: 'lost'; job: string; attempt: number; reason: string }
  | { t: 'withdrawn'; job: string; attempt: number; reason?: string }
  /** a ComfyUI text frame of a job it runs */
  | { t: 'frame'; job: string; attempt: number; raw: string };

export interface Envelope {
  /** the agent process's session */
  s: string;
  /** sequence number within the session, from 1 */
  q: number;
  m: SequencedMessage;
}

export type AgentMessage =
  | HelloMessage
  | { t: 'seq'; e: Envelope }
  | { t: 'state'; state: WorkerState; detail?: string; systemStats: Record<string, unknown> | null }
  /** renews the leases of the jobs it holds */
  | { t: 'renew'; jobs: JobClaim[] }
  /** a ComfyUI text frame that belongs to no job (queue status...) */
  | { t: 'broadcast'; raw: string };

/** Binary agent → server: a preview frame of a job, or a piece of an answer. */
export type AgentBinaryHeader =
  | { t: 'preview'; job: string | null; attempt: number | null }
  | { t: 'chunk'; id: number; last: boolean; error?: string; status?: number };

// ---- server → agent -----------------------------------------------------

export type ServerMessage =
  | {
      t: 'welcome';
      agent: string;
      /** per session named in the hello: the last sequence number the server took */
      acked: Record<string, number>;
      leaseMs: number;
      /** how often each side pings; two missed pongs end the connection */
      pingMs: number;
    }
  | { t: 'ack'; s: string; q: number }
  /** a report was refused: the job moved on (fencing) */
  | { t: 'refused'; job: string; attempt: number; reason: string }
  /** run this job (claimed for the agent) */
  | { t: 'run'; job: Job }
  /** the agent holds this job by the store's record: reconcile it with ComfyUI */
  | { t: 'adopt'; job: Job; cancel: boolean }
  | { t: 'cancel'; id: string }
  | { t: 'takeBack'; id: string }
  /** these claims are no longer the agent's: interrupt and delete its ComfyUI's copies */
  | { t: 'drop'; jobs: JobClaim[]; reason: string }
  | { t: 'request'; id: number; op: 'objectInfo' | 'systemStats' }
  | { t: 'request'; id: number; op: 'view'; file: FileRef };

/** The largest piece of an answer in one binary message (the server's websocket limit is 1 MiB). */
export const CHUNK_BYTES = 512 * 1024;

/** A binary message: 4 bytes of header length (big-endian), the JSON header, the bytes. */
export function encodeBinary(header: object, body: Buffer): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  return Buffer.concat([len, head, body]);
}

export function decodeBinary<H>(buf: Buffer): { header: H; body: Buffer } | null {
  if (buf.length < 4) return null;
  const n = buf.readUInt32BE(0);
  if (4 + n > buf.length) return null;
  try {
    return { header: JSON.parse(buf.subarray(4, 4 + n).toString()) as H, body: buf.subarray(4 + n) };
  } catch {
    return null;
  }
}

/** Parses a JSON text message; null when it is not an object with a string `t`. */
export function parseMessage<M extends { t: string }>(text: string): M | null {
  try {
    const m = JSON.parse(text) as unknown;
    return m && typeof m === 'object' && typeof (m as { t?: unknown }).t === 'string' ? (m as M) : null;
  } catch {
    return null;
  }
}

/** One message of a batch: a text (JSON) message or a binary one. */
export type BatchItem = string | Buffer;

const TEXT_ITEM = 0x74;
const BINARY_ITEM = 0x62;

/** A batch of agent messages: each is 1 byte of kind (`t` or `b`), 4 bytes of length (big-endian), the bytes. */
export function encodeBatch(items: readonly BatchItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const body = typeof item === 'string' ? Buffer.from(item) : item;
    const head = Buffer.alloc(5);
    head[0] = typeof item === 'string' ? TEXT_ITEM : BINARY_ITEM;
    head.writeUInt32BE(body.length, 1);
    parts.push(head, body);
  }
  return Buffer.concat(parts);
}

/** The messages of a batch; a string saying what is wrong when it is not one. */
export function decodeBatch(buf: Buffer): BatchItem[] | string {
  const items: BatchItem[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 5 > buf.length) return `a message header is cut short at byte ${at}`;
    const kind = buf[at]!;
    const n = buf.readUInt32BE(at + 1);
    if (kind !== TEXT_ITEM && kind !== BINARY_ITEM) return `byte ${at} is not a message kind ("t" or "b")`;
    if (at + 5 + n > buf.length) return `the message at byte ${at} is cut short`;
    const body = buf.subarray(at + 5, at + 5 + n);
    items.push(kind === TEXT_ITEM ? body.toString() : body);
    at += 5 + n;
  }
  return items;
}

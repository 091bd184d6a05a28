/**
 * An agent connection over HTTP long-poll (protocol.ts, AGENT_SESSIONS_PATH).
 * The server's messages wait in a queue until the agent's next GET takes
 * them; the agent's batches are handed on in order. It ends when closed, or
 * when no GET has been waiting for `quietMs` (the agent went away), as a
 * websocket ends when its pings go unanswered.
 */
import { randomUUID } from 'node:crypto';
import type { ServerMessage } from '../protocol.js';
import type { AgentConnection, ConnectionHandlers } from './agent-connection.js';

/** What a GET gets: the queued messages (JSON text each), or why the session ended. */
export type PollAnswer = { messages: string[] } | { ended: string };

export interface PollConnectionOptions {
  /** the longest a GET waits for messages */
  holdMs: number;
  /** with no GET waiting for this long, the session ends */
  quietMs: number;
  now: () => number;
  /** called once when it ends, after the port is told */
  onEnd?: (conn: PollConnection) => void;
}

export interface WaitingPoll {
  answer: Promise<PollAnswer>;
  /** the agent hung up before the answer: its messages stay queued for the next GET */
  cancel(): void;
}

export class PollConnection implements AgentConnection {
  readonly transport = 'long-poll';
  readonly id = randomUUID();
  private queue: string[] = [];
  private waiter: ((a: PollAnswer) => void) | null = null;
  private flushing = false;
  private handlers: ConnectionHandlers | null = null;
  private endedWith: string | null = null;
  private lastSeen: number;
  private readonly watch: NodeJS.Timeout;

  constructor(
    readonly agent: string,
    /** the credential that opened it: every later request must carry the same */
    readonly credentialHash: string,
    private readonly opts: PollConnectionOptions,
  ) {
    this.lastSeen = opts.now();
    this.watch = setInterval(
      () => {
        if (!this.waiter && this.opts.now() - this.lastSeen > this.opts.quietMs)
          this.end(`no poll came for ${this.opts.quietMs} ms`);
      },
      Math.max(50, Math.floor(opts.quietMs / 4)),
    );
    this.watch.unref();
  }

  get open(): boolean {
    return this.endedWith === null;
  }

  /** why it ended; null while open */
  get ended(): string | null {
    return this.endedWith;
  }

  listen(h: ConnectionHandlers): void {
    this.handlers = h;
  }

  send(m: ServerMessage): void {
    if (!this.open) return;
    this.queue.push(JSON.stringify(m));
    // Messages sent in the same turn (a welcome and what follows it) go in one answer.
    if (this.waiter && !this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        if (this.waiter && this.queue.length > 0) this.waiter(this.take());
      });
    }
  }

  close(_code: number, reason: string): void {
    this.end(reason);
  }

  /** A GET: answered at once when messages wait (or `waitMs` is 0), else at the first message or after `waitMs`. */
  poll(waitMs: number): WaitingPoll {
    this.lastSeen = this.opts.now();
    // Only the newest GET waits: an older one (its agent gave up on it) is answered empty.
    this.waiter?.({ messages: [] });
    if (this.endedWith !== null) return { answer: Promise.resolve({ ended: this.endedWith }), cancel() {} };
    if (this.queue.length > 0 || waitMs <= 0) return { answer: Promise.resolve(this.take()), cancel() {} };
    let done!: (a: PollAnswer) => void;
    const answer = new Promise<PollAnswer>((resolve) => {
      const timer = setTimeout(() => done(this.take()), Math.min(waitMs, this.opts.holdMs));
      timer.unref();
      done = (a) => {
        clearTimeout(timer);
        if (this.waiter === done) {
          this.waiter = null;
          this.lastSeen = this.opts.now();
        }
        resolve(a);
      };
      this.waiter = done;
    });
    return {
      answer,
      cancel: () => {
        if (this.waiter === done) done({ messages: [] });
      },
    };
  }

  /** A batch of the agent's messages, handed on in order. */
  deliver(items: readonly (string | Buffer)[]): void {
    this.lastSeen = this.opts.now();
    const h = this.handlers;
    if (!h || !this.open) return;
    for (const item of items) {
      if (typeof item === 'string') h.text(item);
      else h.binary(item);
    }
  }

  private take(): { messages: string[] } {
    const messages = this.queue;
    this.queue = [];
    return { messages };
  }

  private end(reason: string): void {
    if (this.endedWith !== null) return;
    this.endedWith = reason;
    clearInterval(this.watch);
    this.queue = [];
    this.waiter?.({ ended: reason });
    this.handlers?.closed(reason);
    this.opts.onEnd?.(this);
  }
}

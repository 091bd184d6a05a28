/**
 * The agent's connection over HTTP long-poll (protocol.ts,
 * AGENT_SESSIONS_PATH), for networks that block websockets: it opens a
 * session, keeps one GET waiting for the server's messages, and POSTs its own
 * in batches, one batch at a time so that they arrive in order. Any request
 * that fails ends the session, as a broken websocket ends: the agent opens a
 * new one and says hello again.
 */
import { errMessage } from '../../logging/logger.js';
import {
  AGENT_SESSIONS_PATH,
  type AgentMessage,
  BATCH_CONTENT_TYPE,
  type BatchItem,
  encodeBatch,
  type PolledMessages,
  type ServerMessage,
  type SessionOpened,
} from '../protocol.js';
import { agentRefusal, type ServerConnection, type TransportEvents } from './transport.js';

/** The most bytes of messages in one POST (the server takes up to 16 MiB). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const OPEN_TIMEOUT_MS = 15_000;
const SEND_TIMEOUT_MS = 120_000;

export function connectPoll(server: string, credential: string, events: TransportEvents): ServerConnection {
  return new PollTransport(server, credential, events);
}

class PollTransport implements ServerConnection {
  readonly kind = 'http';
  private session: string | null = null;
  private ended = false;
  private readonly abort = new AbortController();
  private outgoing: BatchItem[] = [];
  private sending = false;
  private holdMs = 25_000;
  private pingMs = 10_000;

  constructor(
    private readonly server: string,
    private readonly credential: string,
    private readonly events: TransportEvents,
  ) {
    void this.start();
  }

  get open(): boolean {
    return this.session !== null && !this.ended;
  }

  send(m: AgentMessage): void {
    this.queue(JSON.stringify(m));
  }

  sendBinary(data: Buffer): void {
    this.queue(data);
  }

  keepAlive(pingMs: number): void {
    // The server's welcome: GETs that outlast a hold by this much mean the server is gone.
    this.pingMs = pingMs;
  }

  close(): void {
    if (this.ended) return;
    const session = this.session;
    this.ended = true;
    this.abort.abort();
    if (session)
      fetch(`${this.server}${AGENT_SESSIONS_PATH}/${session}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${this.credential}` },
        signal: AbortSignal.timeout(2_000),
      }).catch(() => {
        // Safe: the agent is stopping; the server ends a session nobody polls by itself.
      });
  }

  private queue(item: BatchItem): void {
    if (!this.open) return;
    this.outgoing.push(item);
    void this.flush();
  }

  private end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    this.events.ended(why, this.session !== null);
  }

  /**
   * One request, its answer read whole. It fails after `timeoutMs` (answer included) or when the
   * session ends. (A timer of its own: a timeout signal combined with AbortSignal.any can be
   * collected before it fires, and the request would then wait for ever.)
   */
  private async request(
    method: string,
    path: string,
    timeoutMs: number,
    body?: Buffer,
  ): Promise<{ status: number; text: string }> {
    const ctl = new AbortController();
    const onEnd = () => ctl.abort(new Error('the session ended'));
    this.abort.signal.addEventListener('abort', onEnd, { once: true });
    const timer = setTimeout(() => ctl.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await fetch(`${this.server}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.credential}`,
          ...(body ? { 'content-type': BATCH_CONTENT_TYPE } : {}),
        },
        body: body ? new Uint8Array(body) : undefined,
        signal: ctl.signal,
      });
      return { status: res.status, text: await res.text() };
    } finally {
      clearTimeout(timer);
      this.abort.signal.removeEventListener('abort', onEnd);
    }
  }

  /** What a failed request says, for the log. */
  private static why(err: unknown): string {
    const cause = (err as { cause?: unknown }).cause;
    return errMessage(cause ?? err);
  }

  private refusedOrEnded(res: { status: number; text: string }, what: string): void {
    const refusal = agentRefusal(res.status, res.text);
    if (refusal && !this.ended) {
      this.ended = true;
      this.abort.abort();
      this.events.refused(refusal);
      return;
    }
    let detail = '';
    try {
      const e = (JSON.parse(res.text) as { error?: { code?: string; message?: string } }).error;
      if (e?.message) detail = `: ${e.message} (${e.code})`;
    } catch {
      // Safe: not the server's JSON (a proxy's page): the status says enough.
    }
    this.end(`${what} was answered HTTP ${res.status}${detail}`);
  }

  private async start(): Promise<void> {
    let opened: SessionOpened;
    try {
      const res = await this.request('POST', AGENT_SESSIONS_PATH, OPEN_TIMEOUT_MS);
      if (res.status !== 201) return this.refusedOrEnded(res, 'opening a long-poll session');
      opened = JSON.parse(res.text) as SessionOpened;
    } catch (err) {
      this.end(`opening a long-poll session failed: ${PollTransport.why(err)}`);
      return;
    }
    if (this.ended || typeof opened?.session !== 'string') {
      if (!this.ended) this.end('the server answered no session');
      return;
    }
    this.session = opened.session;
    this.holdMs = opened.hold_ms;
    this.pingMs = opened.ping_ms;
    this.events.opened();
    void this.poll();
  }

  private async poll(): Promise<void> {
    const path = `${AGENT_SESSIONS_PATH}/${this.session}/messages?wait_ms=${this.holdMs}`;
    while (!this.ended) {
      let body: PolledMessages;
      try {
        // A GET that outlasts its hold by a ping interval: the server (or the way to it) is gone.
        const res = await this.request('GET', path, this.holdMs + this.pingMs + 1_000);
        if (res.status !== 200) return this.refusedOrEnded(res, 'polling');
        body = JSON.parse(res.text) as PolledMessages;
      } catch (err) {
        this.end(`polling failed: ${PollTransport.why(err)}`);
        return;
      }
      for (const m of Array.isArray(body?.messages) ? body.messages : []) {
        if (this.ended) return;
        if (m && typeof m === 'object' && typeof (m as { t?: unknown }).t === 'string')
          this.events.message(m as ServerMessage);
      }
    }
  }

  private async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.open && this.outgoing.length > 0) {
        let bytes = 0;
        let n = 0;
        while (n < this.outgoing.length && (n === 0 || bytes < MAX_BATCH_BYTES)) {
          const item = this.outgoing[n]!;
          bytes += typeof item === 'string' ? Buffer.byteLength(item) : item.length;
          n++;
        }
        const batch = this.outgoing.splice(0, n);
        let res: { status: number; text: string };
        try {
          res = await this.request(
            'POST',
            `${AGENT_SESSIONS_PATH}/${this.session}/messages`,
            SEND_TIMEOUT_MS,
            encodeBatch(batch),
          );
        } catch (err) {
          this.end(`sending failed: ${PollTransport.why(err)}`);
          return;
        }
        if (res.status !== 204) return this.refusedOrEnded(res, 'sending');
      }
    } finally {
      this.sending = false;
    }
  }
}

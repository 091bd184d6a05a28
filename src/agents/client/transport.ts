/**
 * The agent's connection to the server, whichever transport carries it: a
 * websocket (ws-transport.ts) or HTTP long-poll (poll-transport.ts). The
 * agent's logic (agent.ts) speaks only to this.
 */
import type { AgentMessage, ServerMessage } from '../protocol.js';

/** `--transport`: a websocket, HTTP long-poll, or the websocket with long-poll as the fallback. */
export type TransportChoice = 'auto' | 'ws' | 'http';

export const TRANSPORT_NAMES = { ws: 'websocket', http: 'HTTP long-poll' } as const;

export interface TransportEvents {
  /** connected: the agent says hello */
  opened(): void;
  message(m: ServerMessage): void;
  /**
   * The connection ended, or could not be made; `opened` says whether it was
   * (a websocket whose upgrade failed was not: long-poll may get through).
   */
  ended(why: string, opened: boolean): void;
  /** the server refused the credential (unknown, revoked, removed): retrying cannot help */
  refused(detail: string): void;
}

export interface ServerConnection {
  readonly kind: 'ws' | 'http';
  /** messages sent now can still reach the server */
  readonly open: boolean;
  send(m: AgentMessage): void;
  /** a binary message (a preview, a piece of an answer) */
  sendBinary(data: Buffer): void;
  /** the server's ping interval, from its welcome */
  keepAlive(pingMs: number): void;
  close(): void;
}

/** The message of the server's JSON error body, when it is one of an agent's refusals. */
export function agentRefusal(status: number, text: string): string | null {
  if (status !== 401 && status !== 403) return null;
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code === 'AGENT_CREDENTIAL_INVALID' || e?.code === 'AGENT_REVOKED')
      return `${e.message} (${e.code})`;
  } catch {
    // Safe: not the server's JSON (a proxy's page): not a refusal of the credential.
  }
  return null;
}

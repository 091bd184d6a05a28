/**
 * One connection of an agent, whichever transport carries it: its websocket
 * (ws-connection.ts) or HTTP long-poll (poll-connection.ts). The agent's port
 * (agent-port.ts) speaks only to this, so the protocol does not depend on
 * the transport.
 */
import type { ServerMessage } from '../protocol.js';

export type AgentTransport = 'websocket' | 'long-poll';

export interface ConnectionHandlers {
  /** a text message (JSON, parsed by the port) */
  text(data: string): void;
  /** a binary message: a preview, or a piece of an answer */
  binary(data: Buffer): void;
  /** the connection ended: closed by either side, or it went quiet */
  closed(reason: string): void;
}

export interface AgentConnection {
  readonly transport: AgentTransport;
  /** messages sent now can still reach the agent */
  readonly open: boolean;
  /** hands what the agent sends to `h`, from now on (called once, when the port takes it) */
  listen(h: ConnectionHandlers): void;
  send(m: ServerMessage): void;
  /** ends it; `code` as a websocket close code (4002 replaced, 4003 removed or revoked) */
  close(code: number, reason: string): void;
}

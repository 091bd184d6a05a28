/**
 * An agent connection over its websocket: text and binary messages as they
 * come, and pings every `pingMs`; two left unanswered in a row (nothing at
 * all came meanwhile) end the connection.
 */
import type { WebSocket } from 'ws';
import { errMessage, type Logger } from '../../logging/logger.js';
import type { ServerMessage } from '../protocol.js';
import type { AgentConnection, ConnectionHandlers } from './agent-connection.js';

export class WsConnection implements AgentConnection {
  readonly transport = 'websocket';

  constructor(
    private readonly socket: WebSocket,
    private readonly pingMs: number,
    private readonly agent: string,
    private readonly log: Logger,
  ) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  listen(h: ConnectionHandlers): void {
    const socket = this.socket;
    let missed = 0;
    const ping = setInterval(() => {
      if (++missed > 2) {
        this.log.warn({ agent: this.agent }, `agent ${this.agent} stopped answering pings`);
        socket.terminate();
        return;
      }
      socket.ping();
    }, this.pingMs);
    ping.unref();
    socket.on('pong', () => {
      missed = 0;
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      missed = 0;
      if (isBinary) h.binary(data);
      else h.text(data.toString());
    });
    socket.on('close', () => {
      clearInterval(ping);
      h.closed('connection closed');
    });
    socket.on('error', (err) => {
      this.log.warn({ err, agent: this.agent }, `agent connection error: ${errMessage(err)}`);
    });
  }

  send(m: ServerMessage): void {
    if (this.open) this.socket.send(JSON.stringify(m));
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }
}

/**
 * The agent's connection over one websocket (`GET AGENT_CONNECT_PATH` with
 * Upgrade). After the welcome it pings every `pingMs`; two left unanswered
 * in a row (nothing at all came meanwhile) end it.
 */
import { WebSocket } from 'ws';
import { errMessage, type Logger } from '../../logging/logger.js';
import { AGENT_CONNECT_PATH, type AgentMessage, parseMessage, type ServerMessage } from '../protocol.js';
import { agentRefusal, type ServerConnection, type TransportEvents } from './transport.js';

export function connectWs(
  server: string,
  credential: string,
  events: TransportEvents,
  log: Logger,
): ServerConnection {
  const url = `${server.replace(/^http/, 'ws')}${AGENT_CONNECT_PATH}`;
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${credential}` },
    handshakeTimeout: 10_000,
    maxPayload: 256 * 1024 * 1024,
  });
  let opened = false;
  let ended = false;
  let heartbeat: NodeJS.Timeout | null = null;
  let missed = 0;
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    if (heartbeat) clearInterval(heartbeat);
    events.ended(why, opened);
  };
  ws.on('open', () => {
    opened = true;
    events.opened();
  });
  ws.on('pong', () => {
    missed = 0;
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    missed = 0;
    if (isBinary) return;
    const m = parseMessage<ServerMessage>(data.toString());
    if (m) events.message(m);
  });
  ws.on('unexpected-response', (req, res) => {
    const status = res.statusCode ?? 0;
    let text = '';
    res.on('data', (c: Buffer) => {
      text += c.toString();
    });
    res.on('end', () => {
      req.destroy();
      const refusal = agentRefusal(status, text);
      if (refusal) {
        ended = true;
        events.refused(refusal);
        return;
      }
      end(`the websocket upgrade was answered HTTP ${status}`);
    });
  });
  ws.on('close', (code, reason) => {
    if (code === 4003) {
      // Removed or revoked by the operator: a reconnect would be refused (and says why).
      log.warn(`the server ended the connection: ${reason.toString() || code}`);
    }
    end(`closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
  });
  ws.on('error', (err) => {
    log.debug({ err }, `connection to ${server}: ${errMessage(err)}`);
    end(errMessage(err));
  });
  const open = () => ws.readyState === ws.OPEN;
  return {
    kind: 'ws',
    get open() {
      return open() && !ended;
    },
    send(m: AgentMessage) {
      if (open()) ws.send(JSON.stringify(m));
    },
    sendBinary(data: Buffer) {
      if (open()) ws.send(data);
    },
    keepAlive(pingMs: number) {
      if (heartbeat) clearInterval(heartbeat);
      missed = 0;
      heartbeat = setInterval(() => {
        if (++missed > 2) {
          log.warn(`the server stopped answering pings: reconnecting`);
          ws.terminate();
          return;
        }
        if (open()) ws.ping();
      }, pingMs);
    },
    close() {
      if (heartbeat) clearInterval(heartbeat);
      ws.close(1000, 'agent stopping');
    },
  };
}

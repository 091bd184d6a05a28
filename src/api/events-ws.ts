/** GET /api/pqueue/ws (also /api/run/ws): the dashboard's event websocket (docs/events.md); the hub does the work. */
import type { FastifyInstance } from 'fastify';
import { EventHub, type EventHubOptions } from './event-hub.js';
import { ensureWebsocket } from './websocket-plugin.js';

export const EVENTS_WS_PATH = '/api/pqueue/ws';
/** The live monitor's address of old (seed 001): the same socket. */
export const MONITOR_WS_PATH = '/api/run/ws';

export async function registerEventsWs(app: FastifyInstance, opts: EventHubOptions): Promise<EventHub> {
  await ensureWebsocket(app);
  const hub = new EventHub(opts);
  // Messages from the client are not part of the protocol: they are read and dropped.
  for (const path of [EVENTS_WS_PATH, MONITOR_WS_PATH])
    app.get(path, { websocket: true }, (socket) => hub.attach(socket));
  app.addHook('onClose', async () => hub.close());
  return hub;
}

/** GET /api/pqueue/ws: the dashboard's event websocket (docs/events.md); the hub does the work. */
import type { FastifyInstance } from 'fastify';
import { EventHub, type EventHubOptions } from './event-hub.js';
import { ensureWebsocket } from './websocket-plugin.js';

export const EVENTS_WS_PATH = '/api/pqueue/ws';

export async function registerEventsWs(app: FastifyInstance, opts: EventHubOptions): Promise<EventHub> {
  await ensureWebsocket(app);
  const hub = new EventHub(opts);
  // Messages from the client are not part of the protocol: they are read and dropped.
  app.get(EVENTS_WS_PATH, { websocket: true }, (socket) => hub.attach(socket));
  app.addHook('onClose', async () => hub.close());
  return hub;
}

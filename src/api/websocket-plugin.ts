/**
 * @fastify/websocket, registered once per app whoever needs it first (the
 * event websocket, the ComfyUI /ws relay). Upgrades go through Fastify's
 * router, so each websocket is an ordinary GET route: its path is its own
 * and the token hook applies (`?token=` for browsers, which cannot set headers
 * on a websocket).
 */
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';

export async function ensureWebsocket(app: FastifyInstance): Promise<void> {
  if (app.hasDecorator('websocketServer')) return;
  await app.register(fastifyWebsocket, { options: { maxPayload: 1 << 20 } });
}

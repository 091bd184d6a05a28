/**
 * The routes an app declares, recorded as they are added: which of them are
 * websockets (an upgrade asked of any other route is refused instead of
 * being accepted and closed), and the whole list for tests that walk every
 * route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface RouteEntry {
  method: string;
  url: string;
  websocket: boolean;
}

const INDEX = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Call before any route is added: routes added earlier are not seen. */
export function indexRoutes(app: FastifyInstance): void {
  const list: RouteEntry[] = [];
  INDEX.set(app, list);
  app.addHook('onRoute', (r) => {
    const websocket = Boolean((r as { websocket?: boolean }).websocket);
    for (const method of Array.isArray(r.method) ? r.method : [r.method])
      list.push({ method: String(method), url: r.url ?? r.path, websocket });
  });
}

export function routesOf(app: FastifyInstance): readonly RouteEntry[] {
  return INDEX.get(app) ?? [];
}

/** Whether the request was routed to a websocket route of `app`. */
export function isWebsocketRoute(app: FastifyInstance, req: FastifyRequest): boolean {
  const url = req.routeOptions.url;
  return url !== undefined && routesOf(app).some((r) => r.websocket && r.method === 'GET' && r.url === url);
}

/**
 * A ComfyUI stand-in for tests, benchmarks and the `--simulate N` demo
 * (docs/simulator.md). It speaks ComfyUI's HTTP and websocket protocol on a
 * real socket; several can run in one process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { originForbidden } from './http-util.js';
import { route } from './routes.js';
import { type ExecutionRecord, SimState, type SimulatorOptions } from './simulator.js';
import { harshen, isHarsh } from './wire.js';

export { AIOHTTP_WIRE, type WireOptions } from './wire.js';
export type { ExecutionRecord, SimulatorOptions };

export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a simulated ComfyUI server; resolves once it is listening. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const enforceOrigin = opts.enforceOrigin ?? true;
  const sim = new SimState(opts);
  const wss = new WebSocketServer({ noServer: true });
  const wire = opts.wire;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (isHarsh(wire)) harshen(res, wire);
    res.on('close', () => {
      if (res.writableFinished) sim.wireStats.answered++;
      else sim.wireStats.aborted++;
    });
    if (enforceOrigin && originForbidden(req)) {
      res.writeHead(403, { 'Content-Type': 'application/octet-stream', 'Content-Length': 0 });
      res.end();
      return;
    }
    void route(sim, req, res);
  };
  const server = opts.tls
    ? createHttpsServer({ key: opts.tls.key, cert: opts.tls.cert }, handler)
    : createServer(handler);
  server.keepAliveTimeout = 5000;
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (url.pathname !== '/ws' && url.pathname !== '/api/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (enforceOrigin && originForbidden(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sim.hub.attach(ws, url.searchParams.get('clientId'), (sid) => sim.hello(sid));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}`,
    port,
    close: async () => {
      sim.close();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

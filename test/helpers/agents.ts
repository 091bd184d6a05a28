/**
 * Remote agents for tests: `comfy-queue agent` as a child process (to kill it)
 * and a TCP relay between an agent and the server that can stop forwarding,
 * as a network partition does: nothing passes either way, not even a close,
 * until it resumes; or that refuses websocket upgrades, as some proxies do;
 * or that drops every connection and refuses new ones, as a server that went
 * down does.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type ChildServer, spawnCli } from './harness.js';

/** Spawns `comfy-queue agent` and resolves once it is connected to the server. */
export function spawnAgent(args: string[]): Promise<ChildServer> {
  return spawnCli(['agent', '--log-level', 'info', ...args], /agent (\S+) connected to/);
}

interface Pair {
  a: Socket;
  b: Socket;
  held: [Socket, Buffer][];
  closed: Set<Socket>;
}

export class Relay {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  private paused = false;
  private refusing = false;
  port = 0;

  /** websocket upgrades refused (answered 403 by the relay itself) */
  upgradesRefused = 0;

  constructor(
    private targetHost: string,
    private targetPort: number,
    private readonly opts: { refuseUpgrades?: boolean } = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((a) => {
      if (this.refusing) {
        a.destroy();
        return;
      }
      if (this.opts.refuseUpgrades) {
        // A request asking for a websocket is answered by the relay, as a proxy that blocks them does.
        a.once('data', (first: Buffer) => {
          const head = first.toString('latin1');
          if (/\r\nupgrade:[ \t]*websocket/i.test(head.slice(0, head.indexOf('\r\n\r\n') + 2))) {
            this.upgradesRefused++;
            a.end(
              'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 27\r\nconnection: close\r\n\r\nwebsockets are not allowed\n',
            );
            return;
          }
          a.pause();
          this.forward(a, first);
        });
        return;
      }
      this.forward(a, null);
    });
    await new Promise<void>((res) => this.server!.listen(0, '127.0.0.1', () => res()));
    this.port = (this.server.address() as { port: number }).port;
  }

  private forward(a: Socket, first: Buffer | null): void {
    const b = connect(this.targetPort, this.targetHost);
    if (first) b.write(first);
    const pair: Pair = { a, b, held: [], closed: new Set() };
    this.pairs.add(pair);
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (d: Buffer) => {
        if (this.paused) pair.held.push([to, d]);
        else to.write(d);
      });
      from.on('close', () => {
        pair.closed.add(from);
        if (!this.paused) this.end(pair);
      });
      from.on('error', () => {
        // closes follow
      });
    };
    pipe(a, b);
    pipe(b, a);
    a.resume();
  }

  /** Stops forwarding: bytes and closes wait. */
  pause(): void {
    this.paused = true;
  }

  /** Drops every connection and refuses new ones, as a server that went down does, until heal(). */
  cut(): void {
    this.refusing = true;
    for (const pair of [...this.pairs]) this.end(pair);
  }

  heal(): void {
    this.refusing = false;
  }

  /** New connections go to another address from now on (a load balancer that moved on). */
  retarget(host: string, port: number): void {
    this.targetHost = host;
    this.targetPort = port;
  }

  /** Forwards what waited, then everything again. */
  resume(): void {
    this.paused = false;
    for (const pair of [...this.pairs]) {
      for (const [to, d] of pair.held) if (!to.destroyed) to.write(d);
      pair.held = [];
      if (pair.closed.size > 0) this.end(pair);
    }
  }

  private end(pair: Pair): void {
    pair.a.destroy();
    pair.b.destroy();
    this.pairs.delete(pair);
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.end(pair);
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
  }
}

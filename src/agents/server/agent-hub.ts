/**
 * Remote agents on the server: enrollment (one-time tokens the operator makes,
 * traded by an agent for its own credential), the agents' connections (a
 * websocket, or HTTP long-poll where websockets are blocked), one AgentPort
 * per agent, and the lease sweeper. Registered agents get their
 * port at start (offline until they connect), so that jobs they held are
 * theirs to reconcile when they are back.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorBody } from '../../api/app.js';
import { parseWith } from '../../api/validate.js';
import { ensureWebsocket } from '../../api/websocket-plugin.js';
import { QueueError } from '../../domain/errors.js';
import type { Engine } from '../../engine/engine.js';
import { isWorkerName } from '../../farm/worker-id.js';
import type { Logger } from '../../logging/logger.js';
import type { AgentEnrollment } from '../../store/job-store.js';
import { hashSecret, newSecret } from '../credentials.js';
import { AGENT_CONNECT_PATH, AGENT_ENROLL_PATH, type FileRef } from '../protocol.js';
import type { AgentConnection } from './agent-connection.js';
import { AgentPort } from './agent-port.js';
import { LeaseSweeper } from './lease-sweeper.js';
import { bearerOf, LongPollSessions } from './long-poll-routes.js';
import { WsConnection } from './ws-connection.js';

export interface AgentHubOptions {
  /** the server's --token: an agent may enroll with it too */
  token: string | null;
  leaseMs: number;
  /** default capacity of a new agent that names none */
  capacity: number;
  /** the longest a long-poll GET is held (default and most: the ping interval) */
  pollHoldMs?: number;
  now: () => number;
  log: Logger;
}

const tag = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/, 'a tag is letters, digits, ".", "_", ":" or "-"');

const NewEnrollmentBody = z
  .strictObject({
    /** seconds the token can be redeemed; default a day, 0 = never expires */
    ttl_s: z
      .number()
      .int()
      .min(0)
      .max(365 * 24 * 3600)
      .optional(),
    note: z.string().max(200).optional(),
  })
  .optional();

const EnrollBody = z.strictObject({
  token: z.string().min(1).max(500),
  name: z.string().min(1).max(63),
  tags: z.array(tag).max(32).optional(),
  capacity: z.number().int().min(1).max(16).optional(),
});

const DAY_S = 24 * 3600;

export class AgentHub {
  readonly ports = new Map<string, AgentPort>();
  private readonly sweeper: LeaseSweeper;
  private readonly polls: LongPollSessions;

  constructor(
    private readonly engine: Engine,
    private readonly opts: AgentHubOptions,
  ) {
    this.sweeper = new LeaseSweeper(engine, this.ports, {
      now: opts.now,
      intervalMs: Math.min(5_000, Math.max(100, Math.floor(opts.leaseMs / 4))),
      log: opts.log,
    });
    this.polls = new LongPollSessions({
      // An agent misses a dead server's answer by a ping interval at most past the hold: with the hold one
      // interval long, it notices within two or three, as pings tell a websocket.
      holdMs: Math.max(100, Math.min(opts.pollHoldMs ?? this.pingMs, this.pingMs)),
      pingMs: this.pingMs,
      now: opts.now,
      authenticate: (credential) => this.authenticate(credential),
      connect: (conn, id) => this.connect(conn, id),
      log: opts.log,
    });
  }

  /** how often each side pings the other (and the agent renews): a quarter of the lease, at most 10 s */
  get pingMs(): number {
    return Math.min(10_000, Math.max(250, Math.floor(this.opts.leaseMs / 4)));
  }

  /** Ports of the registered agents (for the engine's start, before any agent connects). */
  portsAtStart(): AgentPort[] {
    for (const rec of this.engine.registry.list())
      if (rec.kind === 'agent' && !this.ports.has(rec.id))
        this.ports.set(rec.id, this.makePort(rec.id, rec.capacity, rec.mode));
    return [...this.ports.values()];
  }

  start(): void {
    this.sweeper.start();
  }

  async stop(): Promise<void> {
    this.sweeper.stop();
    this.polls.closeAll();
  }

  sweep(): Promise<number> {
    return this.sweeper.sweep();
  }

  /** A file an agent's job produced; null when the worker is not an agent. */
  fetchFile(worker: string, file: FileRef): Promise<Buffer> | null {
    const port = this.ports.get(worker);
    return port ? port.fetchFile(file) : null;
  }

  /** A removed agent: its port goes, and every credential it holds is revoked. */
  async forget(id: string): Promise<void> {
    const port = this.ports.get(id);
    if (!port) return;
    this.ports.delete(id);
    port.disconnect(4003, 'removed');
    for (const e of await this.engine.store.listEnrollments())
      if (e.agent === id && e.revokedAt === null)
        await this.engine.store.saveEnrollment({ ...e, revokedAt: this.opts.now() });
  }

  private makePort(id: string, capacity: number, mode: string): AgentPort {
    const port = new AgentPort(id, capacity, this.engine, this.engine.store, {
      leaseMs: this.opts.leaseMs,
      now: this.opts.now,
      onHello: async (capacity, tags) => {
        await this.engine.registry.upsert(id, { capacity, tags });
      },
      log: this.opts.log.child({ agent: id }),
    });
    port.draining = mode !== 'active';
    return port;
  }

  /** The agent a credential belongs to; refused as the websocket's upgrade is (401 unknown, 403 revoked). */
  private async authenticate(credential: string | undefined): Promise<string> {
    const e = credential ? await this.engine.store.enrollmentForCredential(hashSecret(credential)) : null;
    if (!e?.agent) throw new QueueError('AGENT_CREDENTIAL_INVALID');
    if (e.revokedAt !== null) throw new QueueError('AGENT_REVOKED');
    // Enrolled through another server of the same database (src/cluster): its record is read here now.
    if (!this.engine.registry.get(e.agent)) await this.engine.registry.reload();
    return e.agent;
  }

  private isServerToken(given: string): boolean {
    if (!this.opts.token) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.opts.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private enrollmentJson(e: AgentEnrollment) {
    const now = this.opts.now();
    return {
      id: e.id,
      note: e.note,
      created_at: e.createdAt,
      expires_at: e.expiresAt,
      used_at: e.usedAt,
      agent: e.agent,
      revoked_at: e.revokedAt,
      state:
        e.revokedAt !== null
          ? 'revoked'
          : e.usedAt !== null
            ? 'used'
            : e.expiresAt !== null && e.expiresAt <= now
              ? 'expired'
              : 'open',
    };
  }

  /** The enrollment API (behind the server's token) and the agents' own routes (behind their secrets). */
  async register(app: FastifyInstance): Promise<void> {
    const store = this.engine.store;

    app.post('/api/farm/enrollments', async (req, reply) => {
      const b = parseWith(NewEnrollmentBody, req.body) ?? {};
      const token = newSecret('cqe');
      const now = this.opts.now();
      const ttl = b.ttl_s ?? DAY_S;
      const e: AgentEnrollment = {
        id: randomUUID(),
        tokenHash: hashSecret(token),
        note: b.note ?? null,
        createdAt: now,
        expiresAt: ttl === 0 ? null : now + ttl * 1000,
        usedAt: null,
        agent: null,
        credentialHash: null,
        revokedAt: null,
      };
      await store.saveEnrollment(e);
      return reply.code(201).send({ ...this.enrollmentJson(e), token });
    });

    app.get('/api/farm/enrollments', async () => ({
      enrollments: (await store.listEnrollments()).map((e) => this.enrollmentJson(e)),
    }));

    app.delete<{ Params: { id: string } }>('/api/farm/enrollments/:id', async (req) => {
      const e = (await store.listEnrollments()).find((x) => x.id === req.params.id);
      if (!e)
        throw new QueueError(
          'ENROLLMENT_NOT_FOUND',
          `No enrollment has the id ${req.params.id.slice(0, 80)}.`,
        );
      const revoked = e.revokedAt === null ? { ...e, revokedAt: this.opts.now() } : e;
      if (revoked !== e) await store.saveEnrollment(revoked);
      // An agent connected with the credential it gave is cut off; it is refused from now on.
      if (e.agent) this.ports.get(e.agent)?.disconnect(4003, 'credential revoked');
      if (e.agent) this.opts.log.warn({ agent: e.agent }, `credential of agent ${e.agent} revoked`);
      return this.enrollmentJson(revoked);
    });

    app.post(AGENT_ENROLL_PATH, async (req, reply) => {
      const b = parseWith(EnrollBody, req.body);
      if (!isWorkerName(b.name))
        throw new QueueError(
          'INVALID_BODY',
          'name: an agent name is 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit.',
        );
      const known = this.engine.registry.get(b.name);
      if (known && known.kind !== 'agent')
        throw new QueueError('DUPLICATE_WORKER', `A ComfyUI worker named ${b.name} exists already.`);
      const credential = newSecret('cqa');
      const now = this.opts.now();
      if (this.isServerToken(b.token)) {
        await store.saveEnrollment({
          id: randomUUID(),
          tokenHash: null,
          note: 'enrolled with the server token',
          createdAt: now,
          expiresAt: null,
          usedAt: now,
          agent: b.name,
          credentialHash: hashSecret(credential),
          revokedAt: null,
        });
      } else if (!(await store.redeemEnrollment(hashSecret(b.token), b.name, hashSecret(credential), now))) {
        throw new QueueError('ENROLLMENT_REFUSED');
      }
      await this.engine.registry.upsert(b.name, {
        kind: 'agent',
        source: 'api',
        url: null,
        tags: b.tags ?? known?.tags ?? [],
        capacity: b.capacity ?? known?.capacity ?? this.opts.capacity,
      });
      this.opts.log.info({ agent: b.name }, `agent ${b.name} enrolled`);
      return reply.code(201).send({ agent: b.name, credential });
    });

    await ensureWebsocket(app);
    app.get(
      AGENT_CONNECT_PATH,
      {
        websocket: true,
        preValidation: async (req, reply) => {
          try {
            (req as { agentId?: string }).agentId = await this.authenticate(
              bearerOf(req.headers.authorization),
            );
          } catch (err) {
            if (!(err instanceof QueueError)) throw err;
            return reply.code(err.status).send(errorBody(err.code));
          }
        },
      },
      (socket, req) => {
        const id = (req as { agentId?: string }).agentId!;
        const conn = new WsConnection(socket, this.pingMs, id, this.opts.log);
        // Its record was removed since it enrolled: refused like a revoked one.
        if (!this.connect(conn, id)) socket.close(4003, 'removed');
      },
    );
    await this.polls.register(app);
  }

  /** Hands a new connection to the agent's port; false when the agent's record is gone. */
  private connect(conn: AgentConnection, id: string): boolean {
    let port = this.ports.get(id);
    if (!port) {
      const rec = this.engine.registry.get(id);
      if (rec?.kind !== 'agent') return false;
      port = this.makePort(id, rec.capacity, rec.mode);
      this.ports.set(id, port);
      this.engine.addWorker(port);
    }
    port.attach(conn, this.pingMs);
    this.opts.log.debug(
      { agent: id, transport: conn.transport },
      `agent ${id} connecting (${conn.transport})`,
    );
    return true;
  }
}

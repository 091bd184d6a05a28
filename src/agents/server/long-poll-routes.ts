/**
 * The agents' HTTP long-poll routes (protocol.ts, AGENT_SESSIONS_PATH), for
 * networks that block websockets: a session is one connection of an agent,
 * handed to its port like a websocket; its GETs take the server's messages,
 * its POSTs bring the agent's. Every request carries the credential; a
 * session answers only the credential that opened it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseWith } from '../../api/validate.js';
import { QueueError } from '../../domain/errors.js';
import type { Logger } from '../../logging/logger.js';
import { hashSecret } from '../credentials.js';
import { AGENT_SESSIONS_PATH, BATCH_CONTENT_TYPE, decodeBatch, type SessionOpened } from '../protocol.js';
import type { AgentConnection } from './agent-connection.js';
import { PollConnection } from './poll-connection.js';

export interface LongPollOptions {
  /** the longest a GET of messages is held */
  holdMs: number;
  /** how often the agent renews (told to it); a session with no GET waiting for twice as long ends */
  pingMs: number;
  now: () => number;
  /** the agent a credential (the bearer token) belongs to; throws the refusal */
  authenticate(credential: string | undefined): Promise<string>;
  /** hands a new connection to the agent's port; false when the agent was removed meanwhile */
  connect(conn: AgentConnection, agent: string): boolean;
  log: Logger;
}

/** The largest batch an agent sends in one POST (pieces of files are 512 KiB each). */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** Ended sessions remembered, to tell a late request why. */
const ENDED_KEPT = 256;

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const OpenBody = z.strictObject({}).optional();

export function bearerOf(header: string | undefined): string | undefined {
  const bearer = header ? /^bearer[ \t]+(.*)$/is.exec(header)?.[1] : undefined;
  return bearer?.trim() || undefined;
}

export class LongPollSessions {
  private readonly sessions = new Map<string, PollConnection>();
  private readonly ended = new Map<string, string>();

  constructor(private readonly opts: LongPollOptions) {}

  /** how many sessions are open now */
  get size(): number {
    return this.sessions.size;
  }

  /** Ends every session (the server stops): waiting GETs are answered at once. */
  closeAll(): void {
    for (const s of [...this.sessions.values()]) s.close(1001, 'server going away');
  }

  async register(app: FastifyInstance): Promise<void> {
    const o = this.opts;
    app.post(AGENT_SESSIONS_PATH, async (req, reply) => {
      parseWith(OpenBody, req.body ?? undefined);
      const credential = bearerOf(req.headers.authorization);
      const agent = await o.authenticate(credential);
      // The agent gave up on this request (a proxy timed it out): a session nobody polls is not opened.
      if (req.raw.socket.destroyed) return reply;
      const conn = new PollConnection(agent, hashSecret(credential!), {
        holdMs: o.holdMs,
        quietMs: Math.max(1_000, 2 * o.pingMs),
        now: o.now,
        onEnd: (c) => this.forget(c),
      });
      this.sessions.set(conn.id, conn);
      if (!o.connect(conn, agent)) {
        conn.close(4003, 'removed');
        throw new QueueError(
          'AGENT_REVOKED',
          `Agent ${agent} was removed: enroll it again with a new token.`,
        );
      }
      o.log.debug({ agent, session: conn.id }, `agent ${agent} opened a long-poll session`);
      const body: SessionOpened = { session: conn.id, hold_ms: o.holdMs, ping_ms: o.pingMs };
      return reply.code(201).send(body);
    });

    app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
      `${AGENT_SESSIONS_PATH}/:id/messages`,
      async (req, reply) => {
        const q = parseWith(
          z.strictObject({ wait_ms: z.coerce.number().int().min(0).max(o.holdMs).optional() }),
          req.query,
          'INVALID_QUERY',
        );
        const conn = this.sessionOf(req);
        const waiting = conn.poll(q.wait_ms ?? o.holdMs);
        reply.raw.once('close', () => waiting.cancel());
        const a = await waiting.answer;
        if ('ended' in a) throw ended(conn.id, a.ended);
        return reply.type('application/json; charset=utf-8').send(`{"messages":[${a.messages.join(',')}]}`);
      },
    );

    await app.register(async (scope) => {
      // A batch is bytes (text and binary messages): read whatever it is labelled, checked below.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BATCH_BYTES }, (_req, body, done) =>
        done(null, body),
      );
      scope.post<{ Params: { id: string } }>(`${AGENT_SESSIONS_PATH}/:id/messages`, async (req, reply) => {
        const conn = this.sessionOf(req);
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== BATCH_CONTENT_TYPE)
          throw new QueueError(
            'UNSUPPORTED_MEDIA_TYPE',
            `Send a batch of agent messages as ${BATCH_CONTENT_TYPE} (got ${type.slice(0, 80) || 'no content type'}).`,
          );
        const body = req.body;
        if (!Buffer.isBuffer(body) || body.length === 0)
          throw new QueueError('INVALID_BODY', 'The batch is empty: send at least one message.');
        const items = decodeBatch(body);
        if (typeof items === 'string')
          throw new QueueError('INVALID_BODY', `The batch is malformed: ${items}.`);
        conn.deliver(items);
        return reply.code(204).send();
      });
    });

    app.delete<{ Params: { id: string } }>(`${AGENT_SESSIONS_PATH}/:id`, async (req, reply) => {
      const conn = this.sessionOf(req);
      conn.close(1000, 'the agent ended the session');
      return reply.code(204).send();
    });
  }

  /** The open session a request names, if the credential it carries opened it. */
  private sessionOf(req: FastifyRequest<{ Params: { id: string } }>): PollConnection {
    const id = req.params.id;
    if (!SESSION_ID.test(id))
      throw new QueueError(
        'INVALID_ID',
        `"${id.slice(0, 80)}" is not a session id: use the one POST ${AGENT_SESSIONS_PATH} answered.`,
      );
    const credential = bearerOf(req.headers.authorization);
    if (!credential) throw new QueueError('AGENT_CREDENTIAL_INVALID');
    const conn = this.sessions.get(id);
    if (!conn) throw ended(id, this.ended.get(id) ?? 'no such session');
    const a = Buffer.from(hashSecret(credential));
    const b = Buffer.from(conn.credentialHash);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new QueueError('AGENT_CREDENTIAL_INVALID');
    return conn;
  }

  private forget(conn: PollConnection): void {
    if (this.sessions.get(conn.id) !== conn) return;
    this.sessions.delete(conn.id);
    this.ended.set(conn.id, conn.ended ?? 'ended');
    if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.keys().next().value!);
    this.opts.log.debug(
      { agent: conn.agent, session: conn.id, reason: conn.ended },
      'long-poll session ended',
    );
  }
}

function ended(id: string, reason: string): QueueError {
  return new QueueError(
    'AGENT_SESSION_ENDED',
    `The long-poll session ${id} ended (${reason}): open a new one with POST ${AGENT_SESSIONS_PATH}.`,
  );
}

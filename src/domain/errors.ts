/**
 * The error catalog: every refusal comfy-queue gives has a stable code, an
 * HTTP status and a default message a person can act on. docs/errors.md lists
 * the same codes; a test keeps the two in step.
 */
export const ERROR_CATALOG = {
  INVALID_BODY: {
    status: 400,
    message: 'The request body is not valid JSON or does not have the expected fields.',
  },
  INVALID_QUERY: { status: 400, message: 'A query parameter has a value that is not allowed.' },
  INVALID_PROMPT: {
    status: 400,
    message: "No worker's node definitions accept this prompt: see ComfyUI's error fields and node_errors.",
  },
  WORKFLOW_UNCONVERTIBLE: {
    status: 400,
    message: 'The UI workflow cannot be converted to an API prompt: error.details names the node and why.',
  },
  INVALID_ID: { status: 400, message: 'A prompt_id must be a lowercase hyphenated UUID.' },
  INVALID_TARGET: {
    status: 400,
    message: 'The request target must be a path on this server, not another host.',
  },
  INVALID_CURSOR: { status: 400, message: 'The cursor is malformed or belongs to another sort.' },
  BODY_TOO_DEEP: {
    status: 400,
    message: 'The JSON body nests arrays and objects more than 100 levels deep.',
  },
  BAD_REQUEST: {
    status: 400,
    message: 'The HTTP request is malformed (its URL, method or headers cannot be read).',
  },
  UNAUTHORIZED: {
    status: 401,
    message: 'This server requires a token: send "Authorization: Bearer <token>".',
  },
  FORBIDDEN_ORIGIN: {
    status: 403,
    message: 'A page of another origin may not change anything here (list it with --allow-origin).',
  },
  FORBIDDEN_HOST: {
    status: 403,
    message: 'This server answers only to its loopback names (list other names with --allow-host).',
  },
  WORKER_NOT_FOUND: { status: 404, message: 'No worker has this name.' },
  JOB_NOT_FOUND: { status: 404, message: 'No job has this id.' },
  NOT_FOUND: { status: 404, message: 'No such route.' },
  DUPLICATE_WORKER: { status: 409, message: 'A worker with this name exists already.' },
  DUPLICATE_ID: { status: 409, message: 'A job with this prompt_id already exists.' },
  NOT_PENDING: { status: 409, message: 'Only pending jobs can be changed this way.' },
  NOT_CANCELLABLE: { status: 409, message: 'The job has already finished; there is nothing to cancel.' },
  NOT_FINISHED: {
    status: 409,
    message: 'Only a finished job (completed, failed or cancelled) can be requeued.',
  },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than the server accepts.' },
  URL_TOO_LONG: { status: 414, message: 'A segment of the URL path is too long.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than the server accepts.' },
  INTERNAL: { status: 500, message: 'The server failed unexpectedly; the store is unchanged.' },
  NO_WORKER_INFO: {
    status: 503,
    message:
      'A saved UI workflow can be converted only while a worker is online: send the API format instead.',
  },
  NOT_BUILT: { status: 503, message: 'The dashboard is not built: run `npm run build`.' },
  WORKER_UNAVAILABLE: { status: 502, message: 'No ComfyUI worker answered the passed-through request.' },
  STORE_BUSY: {
    status: 503,
    message:
      'The database is locked by another process; nothing was changed. Try again, and stop the other process (a backup, a second comfy-queue on the same data folder) if it persists.',
  },
  STORE_FULL: {
    status: 507,
    message:
      'The disk that holds the database is full; nothing was changed. Free space in the data folder: writing resumes by itself, no restart needed.',
  },
  // ---- batches and the render tracker ----
  INVALID_BATCH: {
    status: 400,
    message: 'The batch is not valid: its count, seed, items, sweep or bindings do not fit its workflow.',
  },
  BATCH_NOT_FOUND: { status: 404, message: 'No batch has this id or name.' },
  BATCH_RUNNING: { status: 409, message: 'The batch has running jobs: cancel it first, then delete it.' },
  NOT_CLAIMED: {
    status: 409,
    message: 'The job is not held by an external worker (or not by this one): claim it with /next-job first.',
  },
  NOT_COMPLETED: { status: 409, message: 'Only a completed job can be marked done.' },
  // --- Output collection ---
  OUTPUT_NOT_COLLECTED: {
    status: 404,
    message: "The job's outputs are not collected (yet): see its `collection` field.",
  },
  OUTPUT_NOT_FOUND: { status: 404, message: 'The job has no collected output file with this number.' },
  OUTPUT_UNREACHABLE: {
    status: 502,
    message: 'The collect folder or bucket did not give the file back; try again.',
  },
  // Remote agents (docs/farm.md)
  ENROLLMENT_REFUSED: {
    status: 403,
    message: 'The enrollment token is unknown, used, expired or revoked: make a new one.',
  },
  ENROLLMENT_NOT_FOUND: { status: 404, message: 'No enrollment has this id.' },
  AGENT_CREDENTIAL_INVALID: {
    status: 401,
    message: 'The agent credential is missing or unknown: enroll the agent again (--enroll TOKEN).',
  },
  AGENT_REVOKED: {
    status: 403,
    message: "The agent's credential was revoked: enroll it again with a new token.",
  },
  AGENT_SESSION_ENDED: {
    status: 410,
    message:
      "The agent's long-poll session ended (a newer one replaced it, or no poll came for too long): open a new one.",
  },
  // The PostgreSQL store
  STORE_UNAVAILABLE: {
    status: 503,
    message:
      'The database server cannot be reached (or dropped the connection); the change was not confirmed. Look before retrying: the server reconnects by itself.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class QueueError extends Error {
  override name = 'QueueError';
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: unknown,
  ) {
    super(message ?? ERROR_CATALOG[code].message);
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }
}

/**
 * The `--collect` setting, read once at start-up: a folder, an S3 bucket
 * (`s3://bucket/prefix`, with the usual AWS environment variables), or `off`.
 * Pure: the environment is passed in. A value that cannot work is refused
 * with one line naming the flag and what to give instead.
 */
export interface S3Settings {
  bucket: string;
  /** key prefix without leading or trailing slashes; "" for the bucket's root */
  prefix: string;
  region: string;
  /** an S3-compatible endpoint (MinIO, R2, Wasabi...): path-style addressing; null = AWS itself */
  endpoint: string | null;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | null;
}

export type CollectTarget =
  | { kind: 'off' }
  /** `dir` null: `<data>/outputs` */
  | { kind: 'folder'; dir: string | null }
  | ({ kind: 's3' } & S3Settings);

export const DEFAULT_COLLECT: CollectTarget = { kind: 'folder', dir: null };

export type ParsedCollect = { ok: true; target: CollectTarget } | { ok: false; error: string };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseCollect(
  raw: string | undefined,
  env: Record<string, string | undefined>,
): ParsedCollect {
  if (raw === undefined) return { ok: true, target: DEFAULT_COLLECT };
  const value = raw.trim();
  const bad = (why: string): ParsedCollect => ({ ok: false, error: `--collect ${raw}: ${why}` });
  if (value === '') return bad('give a folder, s3://bucket/prefix or off');
  if (value === 'off') return { ok: true, target: { kind: 'off' } };
  if (value.startsWith('s3://')) return parseS3(value.slice(5), env, bad);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return bad(
      'only folders and s3://bucket/prefix are supported (give a folder, s3://bucket/prefix or off)',
    );
  }
  return { ok: true, target: { kind: 'folder', dir: value } };
}

function parseS3(
  rest: string,
  env: Record<string, string | undefined>,
  bad: (why: string) => ParsedCollect,
): ParsedCollect {
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, '');
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    return bad(`"${bucket}" is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`);
  }
  if (prefix.split('/').some((p) => p === '.' || p === '..') || prefix.includes('//')) {
    return bad('the key prefix may not contain empty, "." or ".." parts');
  }
  const get = (k: string) => {
    const v = env[k];
    return v === undefined || v === '' ? null : v;
  };
  const accessKeyId = get('AWS_ACCESS_KEY_ID');
  const secretAccessKey = get('AWS_SECRET_ACCESS_KEY');
  if (!accessKeyId || !secretAccessKey) {
    return bad('set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  }
  const endpointRaw = get('AWS_ENDPOINT_URL_S3') ?? get('AWS_ENDPOINT_URL');
  let endpoint: string | null = null;
  if (endpointRaw) {
    let u: URL | null = null;
    try {
      u = new URL(endpointRaw);
    } catch {
      // refused below
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash) {
      return bad(`AWS_ENDPOINT_URL "${endpointRaw}" is not an http(s) URL such as https://s3.example.com`);
    }
    endpoint = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  }
  return {
    ok: true,
    target: {
      kind: 's3',
      bucket,
      prefix,
      region: get('AWS_REGION') ?? get('AWS_DEFAULT_REGION') ?? 'us-east-1',
      endpoint,
      accessKeyId,
      secretAccessKey,
      sessionToken: get('AWS_SESSION_TOKEN'),
    },
  };
}

/** How the target is named in records and logs (never with credentials). */
export function describeTarget(target: CollectTarget, folder: string | null): string {
  if (target.kind === 'off') return 'off';
  if (target.kind === 'folder') return `file://${folder ?? target.dir ?? ''}`;
  return `s3://${target.bucket}${target.prefix ? `/${target.prefix}` : ''}`;
}

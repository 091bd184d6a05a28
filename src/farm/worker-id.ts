/**
 * Stable worker ids. A worker is named by the person who adds it
 * (`--comfy NAME=URL`), or after its address; never by its position on the
 * command line, so that reordering the flags or adding a worker does not
 * hand one worker's jobs to another after a restart.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isWorkerName(s: string): boolean {
  return NAME.test(s);
}

/** `host-port` of a URL, e.g. `127.0.0.1-8188`, `gpu2.lan-8188`, `comfy.example.com-443-comfy`. */
export function workerIdFromUrl(url: string): string {
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const path = u.pathname.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9._-]+/g, '-');
  const host = u.hostname.replace(/^\[|\]$/g, '').replace(/[^A-Za-z0-9._-]+/g, '-');
  return [host, port, path].filter(Boolean).join('-').slice(0, 63);
}

export type WorkerSpec = { id: string; url: string };

/** `NAME=URL` or `URL`; a refusal is a sentence saying what was expected. */
export function parseWorkerSpec(spec: string): WorkerSpec | { error: string } {
  const eq = spec.indexOf('=');
  const schemeAt = spec.indexOf('://');
  const named = eq > 0 && (schemeAt < 0 || eq < schemeAt);
  const name = named ? spec.slice(0, eq) : null;
  const raw = named ? spec.slice(eq + 1) : spec;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: `${spec}: not a URL (expected e.g. http://127.0.0.1:8188 or gpu1=http://10.0.0.5:8188)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { error: `${spec}: only http:// and https:// ComfyUI addresses are supported` };
  if (name !== null && !isWorkerName(name))
    return {
      error: `${spec}: a worker name is 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    };
  const clean = raw.replace(/\/+$/, '');
  return { id: name ?? workerIdFromUrl(clean), url: clean };
}

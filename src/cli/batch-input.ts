/**
 * What `comfy-queue batch` sends: the workflow file's graph (or UI workflow),
 * the traits table (JSON or CSV), `--bind trait=node.input` and
 * `--sweep node.input=a,b,c` turned into a POST /api/pqueue/batches body.
 * Pure, apart from nothing: the caller reads the files.
 */
import { classify, SubmitInputError } from './submit-input.js';

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** A flag value as JSON would have it: a number when it reads as one, true/false, else the text. */
export function flagValue(raw: string): unknown {
  const t = raw.trim();
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  return raw;
}

/** `--sweep 3.cfg=5,7,9` → ['3.cfg', [5, 7, 9]]. */
export function parseSweep(flag: string): [string, unknown[]] {
  const eq = flag.indexOf('=');
  if (eq <= 0 || eq === flag.length - 1) throw new SubmitInputError(`--sweep ${flag}: give node.input=a,b,c`);
  return [
    flag.slice(0, eq),
    flag
      .slice(eq + 1)
      .split(',')
      .map(flagValue),
  ];
}

/** `--bind hat=6.text` → ['hat', '6.text']. */
export function parseBind(flag: string): [string, string] {
  const eq = flag.indexOf('=');
  if (eq <= 0 || !/^[^.]+\.[^.]+/.test(flag.slice(eq + 1)))
    throw new SubmitInputError(`--bind ${flag}: give trait=node.input (e.g. hat=6.text)`);
  return [flag.slice(0, eq), flag.slice(eq + 1)];
}

/** The rows of a CSV text: commas, double-quoted fields ("" inside quotes is a quote), CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += ch;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

/**
 * The items of a traits file: a JSON array of objects, a JSON object of
 * objects keyed by item number (in number order), or a CSV table whose first
 * row names the traits (values that read as numbers become numbers).
 */
export function parseTraits(text: string, fileName: string): Obj[] {
  if (/\.csv$/i.test(fileName)) {
    const [header, ...rows] = parseCsv(text);
    if (!header || rows.length === 0)
      throw new SubmitInputError(`${fileName}: a CSV of traits needs a header row and at least one row`);
    return rows.map((r) => Object.fromEntries(header.map((h, i) => [h.trim(), flagValue(r[i] ?? '')])));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SubmitInputError(`${fileName}: not JSON (${(err as Error).message})`);
  }
  if (Array.isArray(json) && json.length > 0 && json.every(isObject)) return json as Obj[];
  if (isObject(json) && Object.values(json).length > 0 && Object.values(json).every(isObject))
    return Object.entries(json)
      .sort(([a], [b]) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => v as Obj);
  throw new SubmitInputError(`${fileName}: give a JSON array of trait objects, an object of them, or a CSV`);
}

export interface BatchFlags {
  name: string;
  count?: number;
  seedStart?: number;
  randomSeed: boolean;
  traits?: Obj[];
  binds: [string, string][];
  sweeps: [string, unknown[]][];
  priority?: number;
  weight?: number;
}

/** The POST /api/pqueue/batches body for a workflow file's JSON and the flags. */
export function batchBody(json: unknown, f: BatchFlags): Obj {
  const form = classify(json);
  const body: Obj =
    form === 'body' ? { ...(json as Obj) } : form === 'api-graph' ? { prompt: json } : { workflow: json };
  delete body.name;
  delete body.prompt_id;
  delete body.front;
  delete body.partial_execution_targets;
  if (!isObject(body.prompt) && !isObject(body.workflow)) throw new SubmitInputError('has no graph to run');
  body.name = f.name;
  if (f.count !== undefined) body.count = f.count;
  if (f.seedStart !== undefined) body.seed = { start: f.seedStart };
  if (f.randomSeed) body.seed = 'random';
  if (f.traits) body.items = f.traits;
  if (f.binds.length) body.bindings = Object.fromEntries(f.binds);
  if (f.sweeps.length) body.sweep = Object.fromEntries(f.sweeps);
  if (f.priority !== undefined) body.priority = f.priority;
  if (f.weight !== undefined) body.weight = f.weight;
  return body;
}

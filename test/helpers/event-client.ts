/** A client of the event websocket for tests and benchmarks: records every message and waits for one. */
import WebSocket from 'ws';
import { decodePreviewFrame, type PreviewMeta } from '../../src/api/preview-frame.js';

export type Received =
  | { kind: 'text'; at: number; msg: any }
  | { kind: 'preview'; at: number; meta: PreviewMeta; image: Buffer };

export class EventClient {
  readonly received: Received[] = [];
  private waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const at = performance.now();
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      let r: Received;
      if (isBinary) {
        const p = decodePreviewFrame(buf);
        if (!p) throw new Error(`undecodable binary frame of ${buf.length} bytes`);
        r = { kind: 'preview', at, meta: p.meta, image: p.image };
      } else {
        r = { kind: 'text', at, msg: JSON.parse(buf.toString('utf8')) };
      }
      this.received.push(r);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(r)) return true;
        w.resolve(r);
        return false;
      });
    });
  }

  /** Connects to `<base><path>` (http base URL; the event websocket by default); rejects on a refused upgrade. */
  static connect(base: string, query = '', path = '/api/pqueue/ws'): Promise<EventClient> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${path}${query}`);
    const client = new EventClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        res.destroy();
        reject(new Error(`HTTP ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
  }

  texts(): any[] {
    return this.received.filter((r) => r.kind === 'text').map((r) => (r as { msg: any }).msg);
  }

  /** Resolves with the first message (already received or to come) matching `pred`. */
  waitFor(pred: (r: Received) => boolean, what: string, timeoutMs = 30_000): Promise<Received> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  }

  waitForText(pred: (msg: any) => boolean, what: string, timeoutMs?: number): Promise<any> {
    return this.waitFor((r) => r.kind === 'text' && pred(r.msg), what, timeoutMs).then(
      (r) => (r as { msg: any }).msg,
    );
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { startLoopbackServer } from './http.ts';

/**
 * A loopback proxy in front of another loopback server (the Gainsight fake) that adds latency and
 * measures concurrency: how many requests were in flight at once, counted from a request's
 * arrival until its answer leaves. Point the relay at `baseUrl` (`GAINSIGHT_PX_BASE_URL`);
 * requests go on to the target unchanged, so the target records and answers them as usual.
 *
 * The count is a lower bound of the client's own (a request is counted after the client sent it
 * and no longer once the answer leaves), so `maxInFlight` above a cap proves the cap broken.
 */
export interface InFlightProbe {
  /** `http://127.0.0.1:PORT` + the target's path prefix (e.g. `/v1`). */
  readonly baseUrl: string;
  /** Requests being handled now. */
  readonly inFlight: number;
  /** The most requests ever in flight at once. */
  readonly maxInFlight: number;
  /** Requests received. */
  readonly total: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'keep-alive', 'transfer-encoding']);

/**
 * @param targetBaseUrl the target's base URL, e.g. the fake's `baseUrl` (`http://127.0.0.1:P/v1`).
 * @param latencyMs added before each request goes on to the target.
 */
export async function startInFlightProbe(targetBaseUrl: string, latencyMs: number): Promise<InFlightProbe> {
  const target = new URL(targetBaseUrl);
  let inFlight = 0;
  let maxInFlight = 0;
  let total = 0;

  const loopback = await startLoopbackServer(async (req: IncomingMessage, res: ServerResponse, rawBody: string) => {
    inFlight += 1;
    total += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const done = (): void => {
      if (counted) inFlight -= 1;
      counted = false;
    };
    res.once('close', done);
    try {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !HOP_BY_HOP.has(name)) headers[name] = value;
      }
      const method = req.method ?? 'GET';
      const answer = await fetch(`${target.origin}${req.url ?? '/'}`, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: rawBody }),
        redirect: 'manual',
      });
      const text = await answer.text();
      const answerHeaders: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name)) answerHeaders[name] = value;
      });
      done();
      if (res.destroyed) return;
      res.writeHead(answer.status, answerHeaders);
      res.end(text);
    } catch {
      done();
      if (!res.destroyed) res.destroy();
    }
  });

  return {
    baseUrl: `${loopback.origin}${target.pathname.replace(/\/$/, '')}`,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get total() {
      return total;
    },
    close: () => loopback.close(),
  };
}

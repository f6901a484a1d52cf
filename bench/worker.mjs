/**
 * One side of the benchmark under load, in its own process (as in Lambda, the fake Gainsight PX
 * runs elsewhere: in the parent process, on the other core). Started by bench/run.mjs with the
 * production environment and `--expose-gc`, as `worker.mjs <side> [bundle] [export]`:
 *
 *   relay   imports the bundle and calls its handler (the only side that loads it)
 *   fetch   a bare `fetch` loop over pre-built Gainsight requests
 *   http    a bare `node:http` loop (keep-alive agent) over the same requests
 *
 * and driven over IPC:
 *
 *   { cmd: 'invoke', body }                   relay: one POST /events; answers { status, body }
 *   { cmd: 'overhead', ... }                  any side: a warm-up, a GC, then N timed; answers { ms, cpuMs }
 *   { cmd: 'soak', events, ... }              relay: RSS before/after N events
 *   { cmd: 'run', events, ... }               relay: N events (e.g. SSM counting)
 *
 * stdout carries the relay's own log and metric lines (the parent counts their bytes); results
 * go back over IPC only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILDERS, httpApiEvent, lambdaContext } from './lib/events.mjs';

const [side, bundle, exportName = 'handler'] = process.argv.slice(2);
if (!['relay', 'fetch', 'http'].includes(side)) throw new Error(`unknown side ${side}`);
// The baselines never load the handler: their process holds only their own loop.
const handler = side === 'relay' ? (await import(pathToFileURL(bundle).href))[exportName] : undefined;
const secret = process.env.BENCH_WEBHOOK_SECRET;

let invocations = 0;
async function invoke(body) {
  invocations += 1;
  const answer = await handler(httpApiEvent(body, secret, invocations), lambdaContext(invocations));
  return answer;
}

/** Runs `task(i)` for i in [0, n) with `concurrency` in flight; resolves with the elapsed ms. */
async function pool(n, concurrency, task) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let index = next++; index < n; index = next++) await task(index);
    }),
  );
  return performance.now() - started;
}

/**
 * `{ type, start, count }` events made on the fly (no array of them is held, so memory figures
 * are the relay's), each through the relay; throws on the first answer that is not 200.
 */
async function relayAll({ type = 'track', start, count }, concurrency) {
  const build = BUILDERS[type];
  return pool(count, concurrency, async (index) => {
    const answer = await invoke(build(start + index));
    if (answer?.statusCode !== 200) throw new Error(`relay answered ${answer?.statusCode}: ${String(answer?.body).slice(0, 300)}`);
  });
}

/**
 * The overhead run's invocations, built before the clock starts: the baselines send pre-built
 * requests, and Lambda hands the function a parsed event, so building them is no part of the
 * relay's cost.
 */
function relayPrebuilt({ type = 'track', start, count }, concurrency) {
  const build = BUILDERS[type];
  const calls = Array.from({ length: count }, (_, index) => {
    invocations += 1;
    return [httpApiEvent(build(start + index), secret, invocations), lambdaContext(invocations)];
  });
  return () => pool(count, concurrency, async (index) => {
    const [event, context] = calls[index];
    const answer = await handler(event, context);
    if (answer?.statusCode !== 200) throw new Error(`relay answered ${answer?.statusCode}: ${String(answer?.body).slice(0, 300)}`);
  });
}

/** The same Gainsight calls the relay would make, sent with bare fetch. */
async function fetchAll(requests, concurrency, apiKey) {
  return pool(requests.length, concurrency, async (index) => {
    const request = requests[index];
    const response = await fetch(request.url, {
      method: request.method,
      headers: { 'X-APTRINSIC-API-KEY': apiKey, Accept: 'application/json', 'Content-Type': 'application/json' },
      body: request.json,
    });
    await response.text();
    if (response.status >= 300) throw new Error(`fetch baseline got ${response.status}`);
  });
}

/** The same calls with bare node:http on a keep-alive agent: the headers the relay sends, the whole body read. */
const agent = new Agent({ keepAlive: true });
function httpAll(requests, concurrency, apiKey) {
  const send = (request) =>
    new Promise((resolve, reject) => {
      const url = new URL(request.url);
      const outgoing = httpRequest(
        {
          agent,
          method: request.method,
          hostname: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          headers: {
            'X-APTRINSIC-API-KEY': apiKey,
            Accept: 'application/json',
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(request.json),
          },
        },
        (response) => {
          // The whole body, decoded, as fetch's text() does.
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => (body += chunk));
          response.on('error', reject);
          response.on('end', () => {
            if (response.statusCode >= 300) reject(new Error(`node:http baseline got ${response.statusCode}: ${body.slice(0, 200)}`));
            else resolve();
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(request.json);
    });
  return pool(requests.length, concurrency, (index) => send(requests[index]));
}

/** A V8 CPU profile of the timed part only (`--profile`): no start-up, no warm-up in it. */
async function startProfiler() {
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return {
    async stopInto(dir) {
      const { profile } = await post('Profiler.stop');
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `relay-${process.pid}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

/**
 * Memory after full garbage collections and a pause for V8's concurrent sweeper to hand pages
 * back: what the process keeps, not what it has yet to free.
 */
const settled = async () => {
  for (let round = 0; round < 2; round += 1) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heapUsed, external };
};

const commands = {
  async invoke({ body }) {
    const answer = await invoke(body);
    return { status: answer?.statusCode, body: answer?.body };
  },
  async run({ events, concurrency }) {
    return { ms: await relayAll(events, concurrency) };
  },
  /**
   * One side of the overhead comparison, in a process of its own: the warm-up (for the relay
   * this includes its first invocation and SSM read), a full GC so the timed part starts from
   * the same heap state on every side, then the timed N with the CPU time of this process.
   */
  async overhead({ events, warmup, requests, warmupRequests, concurrency, apiKey, profileDir }) {
    // Everything a run sends is built before the clock starts.
    const prepare = {
      relay: (run) => relayPrebuilt(run === 'warmup' ? { ...events, start: events.start - warmup, count: warmup } : events, concurrency),
      fetch: (run) => () => fetchAll(run === 'warmup' ? warmupRequests : requests, concurrency, apiKey),
      http: (run) => () => httpAll(run === 'warmup' ? warmupRequests : requests, concurrency, apiKey),
    }[side];
    if (warmup > 0) await prepare('warmup')();
    const timed = prepare('timed');
    globalThis.gc?.();
    const profiler = profileDir ? await startProfiler() : undefined;
    const cpu0 = process.cpuUsage();
    const ms = await timed();
    const cpu1 = process.cpuUsage();
    if (profiler) await profiler.stopInto(profileDir);
    return { ms, cpuMs: (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / 1000 };
  },
  async soak({ events, concurrency, warmup }) {
    await relayAll({ ...events, start: events.start - warmup, count: warmup }, concurrency);
    const before = await settled();
    const samples = [];
    const chunk = Math.max(1, Math.ceil(events.count / 10));
    let ms = 0;
    for (let done = 0; done < events.count; done += chunk) {
      ms += await relayAll({ ...events, start: events.start + done, count: Math.min(chunk, events.count - done) }, concurrency);
      samples.push((await settled()).rss);
    }
    const after = await settled();
    return { before, after, samples, peak: process.resourceUsage().maxRSS * 1024, ms };
  },
};

process.on('message', async (message) => {
  try {
    const result = await commands[message.cmd](message);
    process.send({ id: message.id, ok: true, result });
  } catch (error) {
    process.send({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, rss: process.memoryUsage().rss });

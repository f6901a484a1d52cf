#!/usr/bin/env node
/**
 * `npm run bench`: how much the relay adds on top of its Gainsight PX calls (issues 6 and 14).
 *
 *   npm run bench                   full run (about a minute and a half): table, bench/results.json, exit 1 if a target fails
 *   npm run bench -- --smoke        tiny sizes, seconds: checks that every phase runs, the call counts and the bundle size
 *   npm run bench -- --bundle f.mjs measure another build of the handler instead of packaging one
 *   npm run bench -- --from <dir>   package another checkout (e.g. a copy with a proposed change)
 *   npm run bench -- --out f.json   write the results elsewhere
 *   --env NAME=value                add to the relay's environment (e.g. LOG_LEVEL=WARN)
 *   --set overheadN=8000            override a size (see SIZES)
 *   --profile <dir>                 V8 CPU profiles of the relay's timed overhead runs, and a table of where the
 *                                   time went by source file (measures an unminified build unless --bundle is given)
 *   --keep                          keep the temporary work folder
 *
 * Everything runs on 127.0.0.1: loopback fakes of Gainsight PX and SSM (test/support), the
 * production bundle built by serverless-esbuild (`npm run package`; --smoke replays the same
 * esbuild options without the plugin), the production environment from the packaged template.
 * The bundle leaves `@aws-sdk/*` to the Lambda runtime; the work folder links this checkout's
 * node_modules in its place. Every loop is bounded in count and time.
 *
 * The measures (issue 14's words):
 * - overhead: N track events through the real handler, 16 in flight, each side in a fresh
 *   warmed-up child process, against the same N pre-built requests sent (a) by a bare `fetch`
 *   loop and (b) by a bare `node:http` keep-alive loop. Targets: relay <= 0.85 x (a) and
 *   relay <= 2.75 x (b) (median over repetitions).
 * - cold start: a fresh process that imports the production bundle and answers one track event
 *   against the loopback fakes, divided by a floor: bench/floor.mjs bundled the same way, which
 *   imports @aws-sdk/client-ssm, makes one GetParameters call (with decryption) and one fetch
 *   POST of a pre-built custom event. Target <= 1.0 x the floor. `node -e 0` is shown too, as
 *   information.
 * - bundle: the production bundle loaded at cold start <= 200 KB, enforced in --smoke too (its
 *   size does not depend on the machine).
 * Speed targets are reported but not enforced in --smoke.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, buildEntries, buildFloor, buildHandler, bytesByPackage, codeSizes, linkRuntimeSdk, packageHandler, resolvableBundle } from './lib/build.mjs';
import { BUILDERS, SETTINGS, group, identify, track } from './lib/events.mjs';
import { summarizeProfiles } from './lib/profile.mjs';

const args = process.argv.slice(2);
const option = (name) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const SMOKE = args.includes('--smoke');
const OUT = option('--out') ?? join(ROOT, 'bench', 'results.json');
const GIVEN_BUNDLE = option('--bundle');
/** `--from <dir>`: package another checkout (e.g. a copy with a proposed serverless.yml change). */
const FROM = option('--from');
/** `--profile <dir>`: every relay worker (not the baselines) writes a V8 CPU profile there (pair with an unminified --bundle). */
const PROFILE_DIR = option('--profile');

/**
 * Sizes per mode. The full run must stay well under 3 minutes on a 2-core machine. Overhead:
 * overheadReps repetitions x 3 fresh processes, each warmup + overheadN events.
 */
const SIZES = SMOKE
  ? { mappingMs: 40, mappingRounds: 1, overheadN: 200, overheadReps: 1, warmup: 50, soakWarmup: 100, soakN: 400, coldRuns: 2, ttlRunMs: 1100, concurrency: 16 }
  : { mappingMs: 250, mappingRounds: 5, overheadN: 4000, overheadReps: 3, warmup: 1000, soakWarmup: 5000, soakN: 20_000, coldRuns: 9, ttlRunMs: 3200, concurrency: 16 };
// `--set overheadN=2000` overrides a size; `--env NAME=value` adds to the relay's environment
// (e.g. `--env LOG_LEVEL=WARN` to see what INFO logging costs). Both may repeat.
const pairs = (name) =>
  args.flatMap((arg, index) => (arg === name && args[index + 1]?.includes('=') ? [args[index + 1].split(/=(.*)/s).slice(0, 2)] : []));
for (const [key, value] of pairs('--set')) if (key in SIZES) SIZES[key] = Number(value);
const EXTRA_ENV = Object.fromEntries(pairs('--env'));
/** Hard stop for the whole run, whatever happens. */
const DEADLINE = Date.now() + (SMOKE ? 90_000 : 170_000);

const TARGETS = {
  overheadVsFetch: 0.85,
  overheadVsHttp: 2.75,
  coldStartVsFloor: 1.0,
  bundleBytes: 200 * 1024,
  mappingPerSecond: 100_000,
  calls: { 'identify existing': 1, 'identify new': 2, 'group existing': 2, 'group new': 3, track: 1 },
  ssmPerLifetime: 1,
  rssGrowthBytes: 20 * 1024 * 1024,
};

const PREFIX_FALLBACK = '/gainsight-px-relay/prod';
const API_KEY = 'bench-px-api-key';
const PRODUCT_KEY = 'AP-BENCH-1';
const SECRET = 'bench-webhook-secret';

const log = (...parts) => process.stderr.write(`${parts.join(' ')}\n`);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const checkTime = (what) => {
  if (Date.now() > DEADLINE) throw new Error(`benchmark ran out of time before ${what}`);
};
const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms).unref()),
  ]);

// ---------------------------------------------------------------------------------------------
// 1. Build

const work = mkdtempSync(join(tmpdir(), 'gainsight-px-relay-bench-'));
linkRuntimeSdk(work);
const results = {
  mode: SMOKE ? 'smoke' : 'full',
  startedAt: new Date().toISOString(),
  machine: { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', platform: `${process.platform}-${process.arch}` },
  sizes: SIZES,
  ...(Object.keys(EXTRA_ENV).length > 0 ? { extraEnv: EXTRA_ENV } : {}),
};
const children = new Set();

async function main() {
  const t0 = performance.now();
  log(`bench: ${results.mode} run, work folder ${work}`);
  const replica = await buildHandler(join(work, 'replica'));
  // What the bundle would weigh with the SDK bundled in (information only; it is not run).
  const allIn = await buildHandler(join(work, 'all-in'), { external: [] });
  let bundle;
  let template;
  if (GIVEN_BUNDLE) {
    const given = resolvableBundle(resolve(GIVEN_BUNDLE), work);
    bundle = { bundle: given, ...codeSizes(given, dirname(given)), source: GIVEN_BUNDLE };
  } else if (PROFILE_DIR) {
    // Function names and the bundle's `// path` comments survive only without minification.
    const profiled = await buildHandler(join(work, 'profiled'), { minify: false });
    bundle = { ...profiled, source: 'esbuild with serverless.yml custom.esbuild, unminified for --profile' };
  } else if (SMOKE) {
    bundle = { ...replica, source: 'esbuild with serverless.yml custom.esbuild (smoke)' };
  } else {
    log(`bench: npm run package -- --stage prod (serverless-esbuild)${FROM ? ` in ${FROM}` : ''} ...`);
    const packaged = await packageHandler(join(work, 'packaged'), FROM ? { root: FROM } : {});
    bundle = { ...packaged, source: `npm run package -- --stage prod (serverless-esbuild)${FROM ? ` in ${FROM}` : ''}` };
    template = packaged.template;
  }
  results.bundle = {
    source: bundle.source,
    bytes: bundle.bytes,
    startupFiles: bundle.startupFiles,
    totalBytes: bundle.totalBytes,
    totalFiles: bundle.totalFiles,
    zipBytes: bundle.zipBytes,
    replicaBytes: replica.bytes,
    allInBytes: allIn.bytes,
    byPackage: Object.fromEntries(bytesByPackage(replica.metafile).slice(0, 12)),
  };
  const entriesFile = await buildEntries(join(work, 'entries'));
  const bench = await import(pathToFileURL(entriesFile).href);
  const floor = await buildFloor(join(work, 'floor'));
  log(`bench: built in ${Math.round(performance.now() - t0)} ms; bundle ${bundle.bytes} bytes at cold start, ${bundle.totalBytes} in all`);

  // -------------------------------------------------------------------------------------------
  // 2. Mapping throughput: validate + plan (map, limits, JSON-encode) one event, single core.
  checkTime('mapping');
  const { settings } = bench.parseSettings(SETTINGS);
  const ctx = { settings, productKey: PRODUCT_KEY };
  results.mapping = {};
  // Timed in CPU time of this process (GC threads included): a single core's throughput. Rounds
  // of every type are interleaved, and the best round counts: other load on the machine can
  // only slow a round down, never speed it up (the median is kept too).
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const runners = Object.entries(BUILDERS).map(([type, build]) => {
    const raws = Array.from({ length: 512 }, (_, index) => build(index));
    const once = (index) => bench.planEvent(bench.parseEvent(raws[index & 511]), ctx);
    if (once(0).action !== 'send') throw new Error(`${type} was not planned for sending`);
    for (let index = 0; index < 20_000; index += 1) once(index); // warm-up: optimised code
    return { type, once, rounds: [] };
  });
  for (let round = 0; round < SIZES.mappingRounds; round += 1) {
    for (const runner of runners) {
      let count = 0;
      const started = cpuMs();
      let elapsed = 0;
      while (elapsed < SIZES.mappingMs && count < 50_000_000) {
        for (let index = 0; index < 1000; index += 1) runner.once(count + index);
        count += 1000;
        elapsed = cpuMs() - started;
      }
      runner.rounds.push((count / elapsed) * 1000);
    }
  }
  for (const { type, rounds } of runners) {
    results.mapping[type] = { eventsPerSecond: Math.round(Math.max(...rounds)), medianEventsPerSecond: Math.round(median(rounds)), rounds: rounds.map(Math.round) };
  }

  // -------------------------------------------------------------------------------------------
  // 3. Loopback fakes and the production environment.
  const prefix = template ? templateEnv(template).SSM_PREFIX ?? PREFIX_FALLBACK : PREFIX_FALLBACK;
  const px = await bench.startFakeGainsight({ apiKey: API_KEY });
  const ssm = await bench.startFakeSsm({
    parameters: {
      [`${prefix}/api-key`]: { value: API_KEY, type: 'SecureString' },
      [`${prefix}/product-key`]: { value: PRODUCT_KEY, type: 'String' },
      [`${prefix}/webhook-secret`]: { value: `${SECRET},previous-secret`, type: 'SecureString' },
      // A separate write key, as a production stage should have (else every container warns once).
      [`${prefix}/write-keys`]: { value: 'bench-write-key', type: 'SecureString' },
      [`${prefix}/settings`]: { value: JSON.stringify(SETTINGS), type: 'String' },
    },
  });
  try {
    const env = productionEnv(template, { prefix, px, ssm });
    results.environment = Object.fromEntries(Object.entries(env).filter(([name]) => !/^(AWS_(ACCESS|SECRET)|BENCH_|PATH$)/.test(name)));
    await underLoad({ bundle, px, ssm, env });
    checkTime('overhead');
    await overhead({ bench, bundle, px, env, ctx });
    checkTime('cold start');
    await coldStart({ bench, bundle, floor, px, env, ctx });
  } finally {
    await Promise.allSettled([px.close(), ssm.close()]);
  }
  results.elapsedMs = Math.round(performance.now() - t0);
}

/** The function's environment from the packaged template (or serverless.yml's defaults), pointed at the fakes. */
function templateEnv(template) {
  const fn = Object.values(template?.Resources ?? {}).find((resource) => resource.Type === 'AWS::Lambda::Function');
  const variables = fn?.Properties?.Environment?.Variables ?? {};
  return Object.fromEntries(Object.entries(variables).filter(([, value]) => typeof value === 'string' || typeof value === 'number').map(([k, v]) => [k, String(v)]));
}

function productionEnv(template, { prefix, px, ssm }) {
  const fromTemplate = template
    ? templateEnv(template)
    : {
        SSM_PREFIX: prefix,
        SSM_CACHE_TTL_SECONDS: '300',
        DELIVERY_BUDGET_MS: '8000',
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'gainsight-px-relay',
        LOG_LEVEL: 'INFO',
      };
  const loopbackQueue = `${new URL(px.baseUrl).origin}/123456789012/gainsight-px-relay-prod`;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...fromTemplate,
    SSM_PREFIX: prefix,
    // The queues exist but are only used when delivery fails, which never happens here.
    DEAD_LETTER_QUEUE_URL: `${loopbackQueue}-parking`,
    FAILED_QUEUE_URL: `${loopbackQueue}-failed`,
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench-secret-key',
    AWS_SESSION_TOKEN: 'bench-session-token',
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_ENDPOINT_URL_SQS: new URL(px.baseUrl).origin,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    BENCH_WEBHOOK_SECRET: SECRET,
    ...EXTRA_ENV,
  };
}

// ---------------------------------------------------------------------------------------------
// 4. The relay under load: calls per event, SSM calls, memory; then the overhead against bare
// fetch and node:http.

/** A bench/worker.mjs process: `side` is 'relay' (loads the bundle), 'fetch' or 'http' (do not). */
function startWorker(side, bundle, env, extraArgv = [], { logsTo = 'pipe' } = {}) {
  const child = fork(join(ROOT, 'bench', 'worker.mjs'), side === 'relay' ? [side, bundle.bundle, 'handler'] : [side], {
    env,
    execArgv: ['--expose-gc', ...extraArgv],
    stdio: ['ignore', logsTo, 'inherit', 'ipc'],
  });
  children.add(child);
  const output = { bytes: 0, lines: 0 };
  child.stdout?.on('data', (chunk) => {
    output.bytes += chunk.length;
    for (const byte of chunk) if (byte === 10) output.lines += 1;
  });
  const pending = new Map();
  let nextId = 1;
  let readyResolve;
  const ready = new Promise((resolve, reject) => {
    readyResolve = resolve;
    child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
  });
  child.on('message', (message) => {
    if (message.ready) return readyResolve(message);
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.ok) waiter?.resolve(message.result);
    else waiter?.reject(new Error(`worker: ${message.error}`));
  });
  child.on('exit', (code) => {
    children.delete(child);
    for (const waiter of pending.values()) waiter.reject(new Error(`worker exited (${code})`));
    pending.clear();
  });
  const send = (cmd, payload = {}, timeoutMs = 60_000) => {
    checkTime(cmd);
    const id = nextId++;
    return withTimeout(
      new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, ...payload });
      }),
      timeoutMs,
      `worker ${cmd}`,
    );
  };
  return {
    ready: withTimeout(ready, 30_000, 'worker start'),
    send,
    output,
    stop: () =>
      new Promise((resolve) => {
        // SIGTERM would lose a CPU profile; a disconnect lets the worker exit on its own.
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          resolve();
        } else child.disconnect();
      }),
  };
}

async function underLoad({ bundle, px, ssm, env }) {
  const worker = startWorker('relay', bundle, env);
  try {
    await worker.ready;
    const invoke = async (body) => {
      const answer = await worker.send('invoke', { body });
      if (answer.status !== 200) throw new Error(`relay answered ${answer.status}: ${answer.body}`);
      return answer;
    };

    // First invocation of the container: SSM is read once.
    const ssmBefore = ssm.calls.length;
    await invoke(track(0));
    const ssmFirst = ssm.calls.length - ssmBefore;
    // 100 warm invocations, one at a time as Lambda runs them.
    const ssmWarmBefore = ssm.calls.length;
    for (let index = 1; index <= 100; index += 1) await invoke(track(index));
    results.ssm = { firstInvocation: ssmFirst, per100Warm: ssm.calls.length - ssmWarmBefore, ttlSeconds: Number(env.SSM_CACHE_TTL_SECONDS ?? 300) };

    // Gainsight calls per event.
    const scenarios = {
      'identify existing': { seed: { users: ['user-known'] }, body: identify(900_001, 'user-known') },
      'identify new': { seed: {}, body: identify(900_002, 'user-new') },
      'group existing': { seed: { users: ['user-known'], accounts: ['account-known'] }, body: group(900_003, 'account-known', 'user-known') },
      'group new': { seed: { users: ['user-known'] }, body: group(900_004, 'account-new', 'user-known') },
      'group new, new user': { seed: {}, body: group(900_005, 'account-new', 'user-new') },
      track: { seed: {}, body: track(900_006, 'user-known') },
    };
    results.calls = {};
    for (const [name, scenario] of Object.entries(scenarios)) {
      px.reset();
      for (const id of scenario.seed.users ?? []) px.users.set(id, { identifyId: id, propertyKeys: [PRODUCT_KEY] });
      for (const id of scenario.seed.accounts ?? []) px.accounts.set(id, { id, name: id, propertyKeys: [PRODUCT_KEY] });
      await invoke(scenario.body);
      results.calls[name] = { calls: px.requests.length, sequence: px.calls() };
    }
    px.reset();
  } finally {
    await worker.stop();
  }

  // Memory, in a container of its own: RSS after a warm-up and after 20 000 more events (after
  // a forced GC both times), and the peak over its life.
  // The young generation is pinned at V8's default maximum (16 MB semi-spaces): left alone, V8
  // grows and shrinks it with the allocation rate, which moves RSS by ±25 MB between runs and
  // would hide (or fake) a leak. The old generation, where a leak would live, is not limited.
  const soakWorker = startWorker('relay', bundle, env, ['--min-semi-space-size=16', '--max-semi-space-size=16']);
  try {
    await soakWorker.ready;
    const soakLogStart = { ...soakWorker.output };
    // A long warm-up first: V8 grows its young generation under load, which is RSS but not growth.
    const soakWarmup = SIZES.soakWarmup;
    const soak = await soakWorker.send('soak', { events: { type: 'track', start: 1_000_000 + soakWarmup, count: SIZES.soakN }, concurrency: SIZES.concurrency, warmup: soakWarmup }, 120_000);
    px.reset();
    results.memory = {
      events: SIZES.soakN,
      rssBeforeBytes: soak.before.rss,
      rssAfterBytes: soak.after.rss,
      rssGrowthBytes: soak.after.rss - soak.before.rss,
      heapUsedBeforeBytes: soak.before.heapUsed,
      heapUsedAfterBytes: soak.after.heapUsed,
      peakRssBytes: soak.peak,
      samples: soak.samples,
    };
    const soakLines = soakWorker.output.lines - soakLogStart.lines;
    const soakBytes = soakWorker.output.bytes - soakLogStart.bytes;
    results.logging = {
      linesPerEvent: round(soakLines / (SIZES.soakN + soakWarmup), 2),
      bytesPerEvent: Math.round(soakBytes / (SIZES.soakN + soakWarmup)),
      logLevel: env.LOG_LEVEL ?? env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    };
  } finally {
    await soakWorker.stop();
  }

  // SSM per cache lifetime: a container with a 1 s cache under continuous traffic.
  const ttlWorker = startWorker('relay', bundle, { ...env, SSM_CACHE_TTL_SECONDS: '1' });
  try {
    await ttlWorker.ready;
    const before = ssm.calls.length;
    const started = performance.now();
    let events = 0;
    for (let batch = 0; batch < 1000 && performance.now() - started < SIZES.ttlRunMs; batch += 1) {
      await ttlWorker.send('run', { events: { type: 'track', start: batch * 64, count: 64 }, concurrency: SIZES.concurrency });
      events += 64;
      px.reset();
    }
    const elapsedS = (performance.now() - started) / 1000;
    const calls = ssm.calls.length - before;
    const lifetimes = Math.ceil(elapsedS / 1);
    results.ssm.shortTtl = { ttlSeconds: 1, seconds: round(elapsedS, 2), invocations: events, calls, lifetimes, perLifetime: round(calls / lifetimes, 2) };
  } finally {
    await ttlWorker.stop();
  }
}

/**
 * Overhead: N track events through the handler vs the same N Gainsight requests sent by a bare
 * fetch loop and by a bare node:http keep-alive loop. Every side of every repetition runs in a
 * fresh process (warm-up inside it, then timed), so no side inherits another's JIT or GC state;
 * the order of the sides rotates between repetitions so drift on the machine hits each alike.
 */
async function overhead({ bench, bundle, px, env, ctx }) {
  const n = SIZES.overheadN;
  const warmup = SIZES.warmup;
  const sides = ['relay', 'fetch', 'http'];
  const timings = Object.fromEntries(sides.map((side) => [side, []]));
  const requestsFor = (start, count) =>
    Array.from({ length: count }, (_, index) => {
      const plan = bench.planEvent(bench.parseEvent(track(start + index)), ctx);
      const { create } = plan.steps[0];
      return { method: create.method, url: px.baseUrl + create.path, json: create.json };
    });
  for (let rep = 0; rep < SIZES.overheadReps; rep += 1) {
    // Fresh message ids every repetition: the relay answers a repeated custom event from its
    // duplicate cache without calling Gainsight, which would flatter it.
    const events = { type: 'track', start: 200_000 + rep * 50_000 + warmup, count: n };
    const requests = requestsFor(events.start, n);
    const warmupRequests = requestsFor(events.start - warmup, warmup);
    for (const side of [...sides.slice(rep % 3), ...sides.slice(0, rep % 3)]) {
      px.reset();
      // The relay still writes its log lines, to /dev/null: read by this process they would take
      // CPU from the fake Gainsight PX, which no real log pipeline does.
      const worker = startWorker(side, bundle, env, [], { logsTo: 'ignore' });
      try {
        await worker.ready;
        const payload = side === 'relay' ? { events, warmup, ...(PROFILE_DIR ? { profileDir: resolve(PROFILE_DIR) } : {}) } : { requests, warmupRequests, warmup, apiKey: API_KEY };
        timings[side].push(await worker.send('overhead', { ...payload, concurrency: SIZES.concurrency }, 120_000));
      } finally {
        await worker.stop();
      }
      const sent = px.requests.filter((request) => request.path === '/v1/events/custom' && request.status === 201).length;
      if (sent !== n + warmup) throw new Error(`overhead run (${side}) sent ${sent} custom events, expected ${n + warmup}`);
    }
  }
  px.reset();
  const ratiosVs = (baseline) => timings.relay.map((relay, index) => round(relay.ms / timings[baseline][index].ms, 3));
  const ratiosVsFetch = ratiosVs('fetch');
  const ratiosVsHttp = ratiosVs('http');
  if (PROFILE_DIR) results.profile = summarizeProfiles(resolve(PROFILE_DIR), bundle.bundle, n);
  results.overhead = {
    events: n,
    warmup,
    concurrency: SIZES.concurrency,
    reps: SIZES.overheadReps,
    ratioVsFetch: round(median(ratiosVsFetch), 3),
    ratioVsHttp: round(median(ratiosVsHttp), 3),
    ratiosVsFetch,
    ratiosVsHttp,
    ...Object.fromEntries(
      sides.map((side) => {
        const ms = median(timings[side].map((timing) => timing.ms));
        return [
          side,
          {
            ms: timings[side].map((timing) => Math.round(timing.ms)),
            eventsPerSecond: Math.round((n / ms) * 1000),
            microsecondsPerEvent: round((ms * 1000) / n, 1),
            // CPU time of that side's process: what one event costs besides waiting for Gainsight.
            cpuMicrosecondsPerEvent: round((median(timings[side].map((timing) => timing.cpuMs)) * 1000) / n, 1),
          },
        ];
      }),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// 5. Cold start: a fresh process imports the bundle and answers one event, vs the floor
// (bench/floor.mjs: the SDK's GetParameters and one fetch) and vs `node -e 0`.

function timeProcess(argv, env, withFd3) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe', withFd3 ? 'pipe' : 'ignore'] });
      children.add(child);
      let report = '';
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.stdio[3]?.on('data', (chunk) => (report += chunk));
      child.on('error', reject);
      child.on('exit', (code) => {
        const ms = performance.now() - started;
        children.delete(child);
        if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
        resolve({ ms, report: report ? JSON.parse(report) : undefined });
      });
    }),
    30_000,
    'a cold start',
  );
}

async function coldStart({ bench, bundle, floor, px, env, ctx }) {
  const script = join(ROOT, 'bench', 'cold-start.mjs');
  const bare = { PATH: env.PATH };
  // The floor's one Gainsight call, planned by the relay's own code as the overhead requests are.
  const { create } = bench.planEvent(bench.parseEvent(track(1)), ctx).steps[0];
  const floorEnv = { ...env, BENCH_FLOOR_REQUEST: JSON.stringify({ method: create.method, url: px.baseUrl + create.path, json: create.json }) };
  const variants = { production: env };
  if (!SMOKE && env.NODE_OPTIONS) {
    const { NODE_OPTIONS: _dropped, ...withoutOptions } = env;
    variants[`without NODE_OPTIONS=${env.NODE_OPTIONS}`] = withoutOptions;
  }
  // File-system caches warm, as on a Lambda host.
  await timeProcess(['-e', '0'], bare, false);
  await timeProcess([floor.file], floorEnv, false);
  await timeProcess([script, bundle.bundle], env, true);
  const node = [];
  const floorRuns = [];
  const runs = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let run = 0; run < SIZES.coldRuns; run += 1) {
    checkTime('cold start');
    node.push((await timeProcess(['-e', '0'], bare, false)).ms);
    floorRuns.push((await timeProcess([floor.file], floorEnv, false)).ms);
    for (const [name, variantEnv] of Object.entries(variants)) runs[name].push(await timeProcess([script, bundle.bundle], variantEnv, true));
  }
  const nodeMs = median(node);
  const floorMs = median(floorRuns);
  const measured = Object.fromEntries(
    Object.entries(runs).map(([name, list]) => {
      const ms = median(list.map((run) => run.ms));
      return [
        name,
        {
          ms: round(ms, 1),
          // Every variant is divided by the same floor (run with the production environment).
          ratioVsFloor: round(ms / floorMs, 2),
          ratioVsNode: round(ms / nodeMs, 2),
          importMs: round(median(list.map((run) => run.report.importMs)), 1),
          firstAnswerMs: round(median(list.map((run) => run.report.answerMs)), 1),
          nodeBootMs: round(median(list.map((run) => run.report.bootMs)), 1),
        },
      ];
    }),
  );
  const { ms, ratioVsFloor, ratioVsNode } = measured.production;
  results.coldStart = {
    runs: SIZES.coldRuns,
    ms,
    floorMs: round(floorMs, 1),
    ratioVsFloor,
    nodeMs: round(nodeMs, 1),
    ratioVsNode,
    floorBundleBytes: floor.bytes,
    variants: measured,
  };
}

const round = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// 6. Report

function verdicts() {
  const checks = [];
  const add = (name, value, target, pass, smokeChecked = false) => checks.push({ name, value, target, pass, enforced: !SMOKE || smokeChecked });
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
  const o = results.overhead;
  add('overhead vs fetch', o.ratioVsFetch.toFixed(3), `<= ${TARGETS.overheadVsFetch}`, o.ratioVsFetch <= TARGETS.overheadVsFetch);
  add('overhead vs node:http', o.ratioVsHttp.toFixed(3), `<= ${TARGETS.overheadVsHttp}`, o.ratioVsHttp <= TARGETS.overheadVsHttp);
  const cold = results.coldStart;
  add('cold start / floor', cold.ratioVsFloor.toFixed(2), `<= ${TARGETS.coldStartVsFloor.toFixed(1)}`, cold.ratioVsFloor <= TARGETS.coldStartVsFloor);
  // The bundle's size does not depend on the machine: enforced in --smoke too. Under --profile the
  // timed bundle is unminified; the size judged is then the minified build of the same options.
  const productionBytes = PROFILE_DIR ? results.bundle.replicaBytes : results.bundle.bytes;
  add('production bundle', kb(productionBytes), `<= ${kb(TARGETS.bundleBytes)}`, productionBytes <= TARGETS.bundleBytes, true);
  for (const [type, { eventsPerSecond }] of Object.entries(results.mapping)) {
    add(`mapping ${type}`, `${eventsPerSecond.toLocaleString('en-US')}/s`, `>= ${TARGETS.mappingPerSecond.toLocaleString('en-US')}/s`, eventsPerSecond >= TARGETS.mappingPerSecond);
  }
  for (const [name, expected] of Object.entries(TARGETS.calls)) {
    const { calls } = results.calls[name];
    add(`Gainsight calls: ${name}`, String(calls), `= ${expected}`, calls === expected, true);
  }
  add('SSM calls, first invocation', String(results.ssm.firstInvocation), '= 1', results.ssm.firstInvocation === 1, true);
  add('SSM calls per 100 warm invocations', String(results.ssm.per100Warm), `= 0 (cache ${results.ssm.ttlSeconds} s)`, results.ssm.per100Warm === 0, true);
  const short = results.ssm.shortTtl;
  add('SSM calls per cache lifetime', `${short.calls} in ${short.lifetimes} x ${short.ttlSeconds} s`, `<= ${TARGETS.ssmPerLifetime} per lifetime`, short.calls <= short.lifetimes * TARGETS.ssmPerLifetime, true);
  add(`RSS growth over ${results.memory.events.toLocaleString('en-US')} events`, `${(results.memory.rssGrowthBytes / 2 ** 20).toFixed(1)} MB`, '<= 20 MB', results.memory.rssGrowthBytes <= TARGETS.rssGrowthBytes);
  return checks;
}

function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)));
  const line = (row) => `| ${row.map((cell, column) => String(cell).padEnd(widths[column])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** `--profile`: where the relay's timed overhead runs spent their time. */
function profileReport({ profiles, busyMicrosecondsPerEvent, top }) {
  const rows = [['where (self time)', 'µs per event', 'share'], ...top.map((entry) => [entry.place, entry.microsecondsPerEvent, `${entry.share} %`])];
  return `\nCPU profile of the relay's timed runs (${profiles} profile(s), ${busyMicrosecondsPerEvent} µs per event not idle):\n${table(rows)}\n`;
}

function report(checks) {
  const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
  const o = results.overhead;
  const cold = results.coldStart;
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
  const side = (s) => `${s.eventsPerSecond.toLocaleString('en-US')} events/s (${s.microsecondsPerEvent} µs/event), CPU ${s.cpuMicrosecondsPerEvent} µs/event`;
  const measured = [
    ['measure', 'result'],
    ...Object.entries(results.mapping).map(([type, m]) => [`mapping ${type} (validate + map + encode, per CPU-second)`, `${m.eventsPerSecond.toLocaleString('en-US')} events/s`]),
    [`relay, ${o.events} track events, ${o.concurrency} in flight (fresh process, ${o.warmup} warm-up)`, side(o.relay)],
    [`bare fetch, same ${o.events} requests, ${o.concurrency} in flight`, side(o.fetch)],
    [`bare node:http keep-alive, same ${o.events} requests, ${o.concurrency} in flight`, side(o.http)],
    [`overhead vs fetch (relay / fetch, median of ${o.reps})`, `${o.ratioVsFetch.toFixed(3)} (runs ${o.ratiosVsFetch.join(', ')})`],
    [`overhead vs node:http (relay / node:http, median of ${o.reps})`, `${o.ratioVsHttp.toFixed(3)} (runs ${o.ratiosVsHttp.join(', ')})`],
    [
      PROFILE_DIR ? 'bundle loaded at cold start (unminified for --profile; minified: see targets)' : 'production bundle loaded at cold start (minified, @aws-sdk/* external)',
      `${kb(results.bundle.bytes)} in ${results.bundle.startupFiles} file(s)`,
    ],
    ['all JavaScript in the deployment (incl. lazy chunks)', `${kb(results.bundle.totalBytes)} in ${results.bundle.totalFiles} file(s)${results.bundle.zipBytes ? `; zip ${(results.bundle.zipBytes / 1024).toFixed(0)} KB with source maps` : ''}`],
    ['the same bundle with the AWS SDK bundled in (information)', kb(results.bundle.allInBytes)],
    ['node -e 0 (median)', `${cold.nodeMs} ms`],
    ['floor: bundled SDK GetParameters + one fetch POST (median)', `${cold.floorMs} ms (${kb(cold.floorBundleBytes)} bundle)`],
    ...Object.entries(cold.variants).map(([name, c]) => [
      `cold start, import + first event (${name})`,
      `${c.ms} ms = ${c.ratioVsFloor.toFixed(2)} x floor, ${c.ratioVsNode.toFixed(2)} x node -e 0 (import ${c.importMs} ms, first answer ${c.firstAnswerMs} ms)`,
    ]),
    ...Object.entries(results.calls).map(([name, c]) => [`Gainsight calls: ${name}`, `${c.calls} (${c.sequence.join(', ')})`]),
    ['SSM calls: first invocation / next 100 warm', `${results.ssm.firstInvocation} / ${results.ssm.per100Warm}`],
    [`SSM calls with a ${results.ssm.shortTtl.ttlSeconds} s cache, ${results.ssm.shortTtl.invocations} invocations`, `${results.ssm.shortTtl.calls} in ${results.ssm.shortTtl.seconds} s (${results.ssm.shortTtl.lifetimes} lifetimes)`],
    [`RSS before / after ${results.memory.events.toLocaleString('en-US')} events (after GC)`, `${mb(results.memory.rssBeforeBytes)} / ${mb(results.memory.rssAfterBytes)} (growth ${mb(results.memory.rssGrowthBytes)})`],
    ['V8 heap used before / after', `${mb(results.memory.heapUsedBeforeBytes)} / ${mb(results.memory.heapUsedAfterBytes)}`],
    ['peak RSS', mb(results.memory.peakRssBytes)],
    [`log output per event (${results.logging.logLevel})`, `${results.logging.linesPerEvent} lines, ${results.logging.bytesPerEvent} bytes`],
  ];
  const targetRows = [
    ['target', 'measured', 'goal', 'verdict'],
    ...checks.map((check) => [check.name, check.value, check.target, check.pass ? 'PASS' : check.enforced ? 'FAIL' : 'fail (not enforced in --smoke)']),
  ];
  return `\n${table(measured)}\n\n${table(targetRows)}\n`;
}

let exitCode = 0;
const hardStop = setTimeout(() => {
  log('bench: hard time limit reached, stopping');
  for (const child of children) child.kill('SIGKILL');
  process.exit(2);
}, DEADLINE - Date.now() + 5_000);
hardStop.unref();

try {
  await main();
  const checks = verdicts();
  results.targets = checks;
  process.stdout.write(report(checks));
  if (results.profile) process.stdout.write(profileReport(results.profile));
  const failed = checks.filter((check) => !check.pass && check.enforced);
  writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${failed.length === 0 ? 'all targets met' : `${failed.length} target(s) missed`}; results in ${relative(process.cwd(), OUT) || OUT} (${results.elapsedMs} ms)\n`);
  exitCode = failed.length === 0 ? 0 : 1;
} catch (error) {
  log(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  exitCode = 2;
} finally {
  for (const child of children) child.kill('SIGKILL');
  if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);

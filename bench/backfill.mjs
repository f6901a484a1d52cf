#!/usr/bin/env node
/**
 * Memory and speed of a backfill: `gainsight-px-relay replay <archive> --dry-run` over gzipped
 * JSON Lines objects, as a CDP's S3 destination writes them (issue #16: 1 000 000 events from 200
 * gzipped objects must stay under 200 MB RSS).
 *
 *   npm run bench:backfill                               # 1 000 000 events, 200 objects, a local folder
 *   npm run bench:backfill -- --s3                       # the same objects on a loopback fake S3
 *   node bench/backfill.mjs --events 20000 --objects 20  # a small run (CI smoke)
 *   node bench/backfill.mjs --assert-memory              # exit 1 when the peak is over the target
 *
 * The objects are generated into a temporary folder (or put on the fake S3, test/support/fake-s3.ts,
 * on 127.0.0.1), from bench/lib/events.mjs's RudderStack-shaped events (about 1 KB each: 10 %
 * identify, 5 % group, 5 % page, 80 % track). The CLI runs in a child process, exactly as a user
 * runs it (bin/gainsight-px-relay.mjs, planned requests to /dev/null); its RSS high-water mark is
 * sampled every 100 ms from /proc (`ps` elsewhere). Exit 1 when the run fails or does not plan
 * every event.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { group, identify, page, track } from './lib/events.mjs';

const MB = 1024 * 1024;
const TARGET_MB = 200;
const BIN = new URL('../bin/gainsight-px-relay.mjs', import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    objects: { type: 'string', default: '200' },
    s3: { type: 'boolean', default: false },
    'assert-memory': { type: 'boolean', default: false },
  },
});
const events = Number(values.events);
const objects = Number(values.objects);

const eventAt = (i) => {
  switch (i % 20) {
    case 0:
    case 1:
      return identify(i);
    case 2:
      return group(i);
    case 3:
      return page(i);
    default:
      return track(i);
  }
};

/** Object n of the archive: its events as gzipped JSON Lines. */
function objectBody(n) {
  const per = Math.ceil(events / objects);
  const lines = [];
  for (let i = n * per; i < Math.min(events, (n + 1) * per); i += 1) lines.push(JSON.stringify(eventAt(i)));
  return gzipSync(`${lines.join('\n')}\n`);
}

const keyOf = (n) => `rudder/source-1/2024-05-${String(1 + (n % 28)).padStart(2, '0')}/part-${String(n).padStart(5, '0')}.json.gz`;

/** The child's RSS high-water mark (and current RSS), in bytes. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return Math.max(kb('VmHWM'), kb('VmRSS'));
  } catch {
    return undefined;
  }
}

async function psRss(pid) {
  return new Promise((resolve) => {
    const ps = spawn('ps', ['-o', 'rss=', '-p', String(pid)]);
    let out = '';
    ps.stdout.on('data', (chunk) => {
      out += chunk;
    });
    ps.on('close', () => resolve(Number(out.trim()) * 1024 || 0));
    ps.on('error', () => resolve(0));
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-backfill-'));
  let fake;
  try {
    const generated = performance.now();
    let stored = 0;
    let input;
    const env = { ...process.env, PX_PRODUCT_KEY: 'AP-BENCH-1' };
    if (values.s3) {
      const { register } = await import('tsx/esm/api');
      register();
      const { startFakeS3 } = await import('../test/support/fake-s3.ts');
      fake = await startFakeS3();
      for (let n = 0; n < objects; n += 1) {
        const body = objectBody(n);
        stored += body.length;
        fake.put('bench-archive', keyOf(n), body);
      }
      input = 's3://bench-archive/rudder/';
      Object.assign(env, { AWS_ENDPOINT_URL_S3: fake.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench' });
    } else {
      for (let n = 0; n < objects; n += 1) {
        const path = join(dir, 'archive', keyOf(n));
        mkdirSync(join(path, '..'), { recursive: true });
        const body = objectBody(n);
        stored += body.length;
        writeFileSync(path, body);
      }
      input = join(dir, 'archive');
    }
    const generateSeconds = (performance.now() - generated) / 1000;
    console.log(`generated ${events.toLocaleString('en-US')} events in ${objects} gzipped objects (${(stored / MB).toFixed(1)} MB) in ${generateSeconds.toFixed(1)} s`);

    const started = performance.now();
    const child = spawn(process.execPath, [BIN, 'replay', input, '--dry-run'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
    });
    let peak = 0;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, memoryOf(child.pid) ?? (await psRss(child.pid)));
    }, 100);
    const code = await new Promise((resolve) => child.on('exit', resolve));
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;

    const planned = Number(/planned: +([\d,]+)/.exec(stderr)?.[1]?.replace(/,/g, '') ?? 0);
    const skipped = Number(/skipped: +([\d,]+)/.exec(stderr)?.[1]?.replace(/,/g, '') ?? 0);
    const peakMb = peak / MB;
    console.log(`node ${process.version}, ${process.platform}/${process.arch}, source ${values.s3 ? 'loopback fake S3' : 'local folder'}`);
    console.log(`dry run: exit ${code}, ${(planned + skipped).toLocaleString('en-US')} events settled in ${seconds.toFixed(1)} s = ${Math.round((planned + skipped) / seconds).toLocaleString('en-US')} events/s`);
    console.log(`peak RSS ${peakMb.toFixed(0)} MB (target < ${TARGET_MB} MB): ${peakMb < TARGET_MB ? 'within target' : 'OVER TARGET'}`);
    if (code !== 0 || planned + skipped !== events) {
      console.error(`the run failed or did not settle every event:\n${stderr.slice(-2000)}`);
      process.exitCode = 1;
    } else if (values['assert-memory'] && peakMb >= TARGET_MB) process.exitCode = 1;
  } finally {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

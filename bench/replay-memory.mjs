#!/usr/bin/env node
/**
 * Memory of `gainsight-px-relay replay --dry-run` as the input grows: the replay streams its
 * input, so peak memory should not depend on the file's size.
 *
 *   node bench/replay-memory.mjs                 # 10 000 and 100 000 events, both formats
 *   node bench/replay-memory.mjs 1000000         # other sizes
 *
 * Each run is a fresh child process (its own peak RSS), replaying a generated file of mixed
 * identify / group / track / page events with the planned requests written to /dev/null, as
 * `replay <file> --dry-run > /dev/null` would. RSS is sampled every 50 ms; the table shows the
 * peak RSS, the RSS when a quarter and three quarters of the events were done, and the peak heap.
 */
import { fork } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MB = 1024 * 1024;

const eventAt = (i) => {
  const userId = `user-${i % 5000}`;
  switch (i % 10) {
    case 0:
      return { type: 'identify', messageId: `m${i}`, userId, traits: { email: `${userId}@example.com`, name: 'Ada Lovelace', plan: 'pro' }, timestamp: '2024-05-06T07:08:09Z' };
    case 1:
      return { type: 'group', messageId: `m${i}`, userId, groupId: `acct-${i % 700}`, traits: { name: `Account ${i % 700}`, industry: 'Software' }, timestamp: '2024-05-06T07:08:09Z' };
    case 2:
      return { type: 'page', messageId: `m${i}`, userId, name: 'Pricing', timestamp: '2024-05-06T07:08:09Z' };
    default:
      return { type: 'track', messageId: `m${i}`, userId, event: 'Report Exported', properties: { format: 'csv', rows: i, filters: { from: '2024-01-01', tags: ['a', 'b'] } }, context: { page: { url: 'https://app.example.com/reports?id=1' } }, timestamp: '2024-05-06T07:08:09Z' };
  }
};

async function writeInput(path, count, format) {
  const out = createWriteStream(path);
  const write = (text) => (out.write(text) ? undefined : new Promise((resolve) => out.once('drain', resolve)));
  if (format === 'json-array') await write('[\n');
  for (let i = 0; i < count; i += 1) {
    const json = JSON.stringify(eventAt(i));
    await write(format === 'json-array' ? `${i === 0 ? '' : ',\n'}${json}` : `${json}\n`);
  }
  if (format === 'json-array') await write('\n]\n');
  await new Promise((resolve) => out.end(resolve));
}

async function child(file, count) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  const samples = [];
  let heapPeak = 0;
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    samples.push(rss);
    heapPeak = Math.max(heapPeak, heapUsed);
  };
  const timer = setInterval(sample, 50);
  const started = performance.now();
  const code = await main(['replay', file, '--dry-run'], {
    stdout: process.stdout, // /dev/null: the parent ignores it
    stderr: { write: () => true, isTTY: false },
    env: { PX_PRODUCT_KEY: 'AP-BENCH-1' },
  });
  clearInterval(timer);
  sample();
  process.send({
    code,
    count,
    seconds: (performance.now() - started) / 1000,
    peakRss: process.resourceUsage().maxRSS * 1024,
    quarter: samples[Math.floor(samples.length / 4)],
    threeQuarters: samples[Math.floor((samples.length * 3) / 4)],
    heapPeak,
  });
}

async function parent(sizes) {
  const dir = mkdtempSync(join(tmpdir(), 'replay-memory-'));
  const rows = [];
  try {
    for (const format of ['jsonl', 'json-array']) {
      for (const count of sizes) {
        const file = join(dir, `events-${count}.${format === 'jsonl' ? 'jsonl' : 'json'}`);
        await writeInput(file, count, format);
        const result = await new Promise((resolve, reject) => {
          const proc = fork(fileURLToPath(import.meta.url), ['--child', file, String(count)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
          let message;
          proc.on('message', (m) => {
            message = m;
          });
          proc.on('exit', (code) => (message ? resolve(message) : reject(new Error(`child exited ${code}`))));
        });
        rows.push({ format, events: count, fileMb: statSync(file).size / MB, ...result });
        rmSync(file);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const mb = (bytes) => `${(bytes / MB).toFixed(0)} MB`;
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  console.log('format      events     file      time     events/s  peak RSS  RSS @25%  RSS @75%  peak heap  exit');
  for (const r of rows) {
    console.log(
      [
        r.format.padEnd(10),
        String(r.events).padStart(8),
        `${r.fileMb.toFixed(1)} MB`.padStart(9),
        `${r.seconds.toFixed(1)} s`.padStart(8),
        String(Math.round(r.count / r.seconds)).padStart(10),
        mb(r.peakRss).padStart(9),
        mb(r.quarter).padStart(9),
        mb(r.threeQuarters).padStart(9),
        mb(r.heapPeak).padStart(10),
        String(r.code).padStart(5),
      ].join(' '),
    );
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], Number(process.argv[4]));
else await parent(process.argv.length > 2 ? process.argv.slice(2).map(Number) : [10_000, 100_000]);

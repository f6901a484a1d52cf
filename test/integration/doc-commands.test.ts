import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGainsight, startFakeGainsight } from '../support/fake-gainsight.ts';
import { type FakeSqs, startFakeSqs } from '../support/fake-sqs.ts';
import { type FakeS3, startFakeS3 } from '../support/fake-s3.ts';
import { type FakeSsm, startFakeSsm } from '../support/fake-ssm.ts';
import { type HttpAdapter, startHttpAdapter } from '../support/http-adapter.ts';
import { loadHandler } from '../support/lambda.ts';

/**
 * Every command the README and docs/ show in a ```sh block either runs here, against loopback
 * fakes of Gainsight PX, SSM and SQS (and `npm start` itself), or is one CI runs (.ci/run) or a
 * named test runs word for word, or is marked `# needs an AWS account`. So no doc command can rot
 * unnoticed. Commands run through bash, in order, each in a fresh folder holding small exports;
 * `npx gainsight-px-relay` resolves to this clone's bin (npx outside the clone would ask the
 * registry), and the AWS SDK's endpoint variables point at the fakes.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOC_FILES = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];
const AWS_MARK = '# needs an AWS account';
/** What only an AWS account can run: the mark is allowed on these and required on them. */
const NEEDS_AWS = /^(aws |npm run deploy(?! -- --stage local$)|npx sls (invoke|remove|logs|deploy))|amazonaws\.com/;
/** Run by .ci/run, word for word. */
const CI_STEPS = ['npm ci', 'npm test', 'npm run typecheck', 'npm run package -- --stage prod', 'npm run bench:backfill -- --events 20000 --objects 20', 'bash .ci/run'];
/** Run word for word by a test (the test file holds the command's arguments). */
const TESTED_ELSEWHERE: Record<string, [string, string]> = {
  'npm run bench -- --smoke': ['test/integration/bench-smoke.test.ts', "'--smoke'"],
  'npm run bench -- --smoke --profile /tmp/relay-profile': ['test/integration/bench-smoke.test.ts', "'--smoke', '--profile'"],
  'npm run bench:drain -- --smoke': ['test/integration/bench-smoke.test.ts', "'drain.mjs'), '--smoke'"],
};
const START = /^((?:[A-Z_]+=("[^"]*"|'[^']*'|\S+) )*)npm start$/;
const RUN_HERE = /^(?:[A-Z_]+=("[^"]*"|'[^']*'|\S+) )*(curl -s .*http:\/\/127\.0\.0\.1:3000|(npx )?gainsight-px-relay |umask 0\d\d$|printf '%s\\n' "\$\w+" > [\w.-]+$|npm run docs:settings$|npm run deploy -- --stage local$)/;

interface DocCommand {
  file: string;
  line: number;
  block: number;
  text: string;
  /** The `# …` line right below it in the block, if any (what it prints). */
  shows?: string;
}

/** The commands of a Markdown file's ```sh blocks, continuation lines joined. */
function docCommands(file: string): DocCommand[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const commands: DocCommand[] = [];
  let block = -1;
  let inSh = false;
  for (let i = 0; i < lines.length; i += 1) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    if (trimmed.startsWith('```')) {
      inSh = !inSh && /^```(sh|bash|shell)$/.test(trimmed);
      if (inSh) block += 1;
      continue;
    }
    if (!inSh || trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const last = commands.at(-1);
      if (last && last.block === block && last.shows === undefined && last.line === i) last.shows = trimmed.slice(1).trim();
      continue;
    }
    let text = trimmed;
    const line = i + 1;
    while (text.endsWith('\\') && i + 1 < lines.length) {
      i += 1;
      text = `${text.slice(0, -1).trimEnd()} ${(lines[i] as string).trim()}`;
    }
    commands.push({ file, line, block, text });
    // `shows` is the comment on the very next line: remember where this command ended.
    (commands.at(-1) as DocCommand).line = i + 1;
    (commands.at(-1) as DocCommand & { startLine?: number }).startLine = line;
  }
  return commands;
}

const ALL = DOC_FILES.flatMap(docCommands);
const withoutComment = (text: string): string => text.replace(/\s+#.*$/, '').trim();

type Kind = 'aws' | 'ci' | 'elsewhere' | 'start' | 'run' | 'unknown';
function kindOf(part: string, full: string): Kind {
  if (full.includes(AWS_MARK)) return 'aws';
  if (CI_STEPS.includes(part)) return 'ci';
  if (part in TESTED_ELSEWHERE) return 'elsewhere';
  if (START.test(part)) return 'start';
  if (RUN_HERE.test(part)) return 'run';
  return 'unknown';
}
const partsOf = (command: DocCommand): string[] => withoutComment(command.text).split(/\s+&&\s+/);

describe('the commands shown in README.md and docs/', () => {
  it('are each run here, by CI or by a named test, or marked as needing an AWS account', () => {
    const ciScript = readFileSync(join(root, '.ci/run'), 'utf8');
    const problems: string[] = [];
    expect(ALL.length).toBeGreaterThan(10);
    for (const command of ALL) {
      const where = `${command.file}:${(command as { startLine?: number }).startLine}`;
      const marked = command.text.includes(AWS_MARK);
      if (marked !== NEEDS_AWS.test(withoutComment(command.text))) {
        problems.push(`${where}: ${marked ? 'marked, but needs no AWS account' : 'needs an AWS account but is not marked'}: ${command.text}`);
      }
      for (const part of partsOf(command)) {
        const kind = kindOf(part, command.text);
        if (kind === 'unknown') problems.push(`${where}: no test runs it: ${part}`);
        if (kind === 'ci' && part !== 'bash .ci/run' && !ciScript.includes(part)) problems.push(`${where}: .ci/run does not run: ${part}`);
        if (kind === 'elsewhere') {
          const [test, argument] = TESTED_ELSEWHERE[part] as [string, string];
          if (!readFileSync(join(root, test), 'utf8').includes(argument)) problems.push(`${where}: ${test} does not run: ${part}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('README.md and docs/', () => {
  const anchorsOf = (file: string): Set<string> =>
    new Set(
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .filter((line) => /^#{1,6} /.test(line))
        .map((line) =>
          line
            .replace(/^#+ /, '')
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, '')
            .replace(/ /g, '-'),
        ),
    );

  it('keep the README under 250 lines', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThan(250);
  });

  it('link only to files of this repository that exist, and to headings that exist', () => {
    const problems: string[] = [];
    for (const file of DOC_FILES) {
      const text = readFileSync(join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = target as string;
        if (/^[a-z]+:/i.test(link)) {
          problems.push(`${file}: links outside the repository: ${link}`);
          continue;
        }
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const resolved = path === '' ? join(root, file) : resolve(dirname(join(root, file)), path);
        if (!resolved.startsWith(root) || !existsSync(resolved)) problems.push(`${file}: no such file in the repository: ${link}`);
        else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved.slice(root.length + 1)).has(anchor)) problems.push(`${file}: no heading #${anchor} in ${path || file}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

// ---- Running them ----------------------------------------------------------------------------

const WEBHOOK_SECRET = 'dev-secret';
const EXPORT_LINES = [
  { type: 'identify', messageId: 'doc-1', userId: 'doc-user-1', traits: { email: 'ada@example.com' }, timestamp: '2026-11-02T10:00:00Z' },
  { type: 'track', messageId: 'doc-2', userId: 'doc-user-1', event: 'Report Exported', timestamp: '2026-11-02T10:01:00Z' },
  { type: 'group', messageId: 'doc-3', userId: 'doc-user-1', groupId: 'doc-account-1', traits: { name: 'Analytical Engines' }, timestamp: '2026-11-02T10:02:00Z' },
];

let px: FakeGainsight;
let ssm: FakeSsm;
let sqs: FakeSqs;
let s3: FakeS3;
let relay: HttpAdapter;
let shims: string;
let values: Record<string, string>;
let baseEnv: NodeJS.ProcessEnv;
let server: { child: ChildProcess; url: string } | undefined;

const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });

/** The variables the docs may name ($NAME): a command gets those it names, and no others. */
const envFor = (text: string): NodeJS.ProcessEnv => ({
  ...baseEnv,
  ...Object.fromEntries(Object.entries(values).filter(([name]) => new RegExp(`\\$\\{?${name}\\b`).test(text))),
});

function run(text: string, cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('bash', ['-c', text], { cwd, env: envFor(text) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

async function startServer(text: string): Promise<void> {
  await stopServer();
  const [httpPort, lambdaPort] = [await freePort(), await freePort()];
  const assignments = START.exec(text)?.[1] ?? '';
  const line = `${assignments}exec npm start -- --httpPort ${httpPort} --lambdaPort ${lambdaPort}`;
  const child = spawn('bash', ['-c', line], { cwd: root, env: envFor(text), detached: true });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${httpPort}`;
  server = { child, url };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/health`).then((answer) => answer.ok, () => false);
    if (ok) return;
    await new Promise((wait) => setTimeout(wait, 250));
  }
  throw new Error(`npm start did not answer /health within 60 s:\n${output}`);
}

async function stopServer(): Promise<void> {
  if (!server) return;
  const { child } = server;
  server = undefined;
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  process.kill(-(child.pid as number), 'SIGTERM');
  await Promise.race([exited, new Promise((wait) => setTimeout(wait, 5000))]);
  if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
}

/** A fresh folder with the exports the docs' commands read. */
function workFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'gainsight-px-relay-docs-'));
  writeFileSync(join(folder, 'export.jsonl'), `${EXPORT_LINES.map((event) => JSON.stringify(event)).join('\n')}\n`);
  writeFileSync(join(folder, 'export.json'), JSON.stringify(EXPORT_LINES.slice(0, 2)));
  return folder;
}

/** Each `"key":value` pair a `# {…}` line shows (`…` marks what it leaves out) is in the output. */
function expectShown(shows: string | undefined, stdout: string): void {
  if (shows === undefined || !shows.startsWith('{')) return;
  const pairs = [...shows.matchAll(/"(\w+)":("[^"]*"|-?\d+(\.\d+)?|true|false)/g)].map((match) => match[0]);
  expect(pairs.length).toBeGreaterThan(0);
  for (const pair of pairs) expect(stdout.replace(/\s/g, ''), `shows ${pair}`).toContain(pair.replace(/\s/g, ''));
}

beforeAll(async () => {
  px = await startFakeGainsight();
  ssm = await startFakeSsm();
  sqs = await startFakeSqs();
  s3 = await startFakeS3({ pageSize: 2 });
  // An archive as RudderStack's S3 destination writes it: gzipped JSON Lines per source and day.
  const day = (date: string, index: number) =>
    [
      { type: 'identify', messageId: `s3-${date}-${index}-i`, userId: `archived-${index}`, traits: { email: `a${index}@example.com` }, timestamp: `${date}T08:00:00Z` },
      { type: 'track', messageId: `s3-${date}-${index}-t`, userId: `archived-${index}`, event: 'Dashboard Viewed', timestamp: `${date}T08:05:00Z` },
      { type: 'page', messageId: `s3-${date}-${index}-p`, userId: `archived-${index}`, name: 'Home', timestamp: `${date}T08:06:00Z` },
    ]
      .map((event) => JSON.stringify(event))
      .join('\n');
  for (const [index, date] of ['2024-05-01', '2024-05-02', '2024-06-03'].entries()) {
    s3.put('acme-cdp-archive', `rudderstack/src-web/${date}/part-0.json.gz`, gzipSync(`${day(date, index)}\n`));
  }
  s3.put('acme-cdp-archive', 'rudderstack/src-web/2024-05-02/part-1.json', `${day('2024-05-02', 9)}\n`);
  for (const stage of ['prod']) {
    ssm.setParameter(`/gainsight-px-relay/${stage}/api-key`, px.apiKey, 'SecureString');
    ssm.setParameter(`/gainsight-px-relay/${stage}/product-key`, 'AP-DOCS-2');
    ssm.setParameter(`/gainsight-px-relay/${stage}/webhook-secret`, WEBHOOK_SECRET, 'SecureString');
  }
  const failed = sqs.createQueue('gainsight-px-relay-prod-failed.fifo', { contentBasedDeduplication: true });
  const parking = sqs.createQueue('gainsight-px-relay-prod-parking.fifo', { deadLetterQueueName: 'gainsight-px-relay-prod-failed.fifo', maxReceiveCount: 100 });
  // One event Gainsight rejected before: what the docs' `failed` commands list and replay.
  const rejected = { code: 'gainsight_rejected', message: 'Gainsight PX rejected POST /events/custom with 400: eventName: too long', status: 400 };
  const event = { type: 'track', messageId: 'doc-failed-1', userId: 'doc-user-2', event: 'Report Scheduled', properties: {}, timestamp: '2026-11-02T10:04:00.000Z' };
  const parked = { kind: 'gainsight-px-relay.parked-event', version: 1, event, reason: rejected, firstFailureAt: event.timestamp, parkedAt: event.timestamp, attempts: 1, resumeAtStep: 0 };
  sqs.send(failed, JSON.stringify({ kind: 'gainsight-px-relay.failed-event', version: 1, failedAt: '2026-11-02T10:05:00.000Z', reason: rejected, parked }), { messageGroupId: 'doc-user-2' });
  const handler = await loadHandler({ PX_API_KEY: px.apiKey, PX_PRODUCT_KEY: 'AP-DOCS-2', WEBHOOK_SECRET, GAINSIGHT_PX_BASE_URL: px.baseUrl });
  relay = await startHttpAdapter(handler);

  shims = mkdtempSync(join(tmpdir(), 'gainsight-px-relay-docs-bin-'));
  const bin = join(root, 'bin', 'gainsight-px-relay.mjs');
  writeFileSync(join(shims, 'gainsight-px-relay'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
  writeFileSync(
    join(shims, 'npx'),
    `#!/bin/sh\nif [ "$1" = gainsight-px-relay ]; then shift; exec "${process.execPath}" "${bin}" "$@"; fi\necho "npx $1: not available to the docs test (nothing is fetched from a registry)" >&2\nexit 127\n`,
  );
  for (const name of ['gainsight-px-relay', 'npx']) chmodSync(join(shims, name), 0o755);
  mkdirSync(join(shims, 'home'));

  values = { PX_API_KEY: px.apiKey, WEBHOOK_SECRET, RELAY_URL: relay.url, DEAD_LETTER_QUEUE_URL: parking, FAILED_QUEUE_URL: failed };
  const { PATH } = process.env;
  baseEnv = {
    PATH: `${shims}:${join(root, 'node_modules', '.bin')}:${PATH}`,
    HOME: join(shims, 'home'),
    NO_COLOR: '1',
    CI: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    // Gainsight is the fake whatever a command sets, and AWS is the fakes, with no profile.
    GAINSIGHT_PX_BASE_URL: px.baseUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDDOCS',
    AWS_SECRET_ACCESS_KEY: 'docs-secret-key',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
  };
}, 60_000);

afterAll(async () => {
  await stopServer();
  await Promise.all([px?.close(), ssm?.close(), sqs?.close(), s3?.close(), relay?.close()]);
  if (shims) rmSync(shims, { recursive: true, force: true });
});

for (const file of DOC_FILES) {
  const runnable = docCommands(file).filter((command) => partsOf(command).some((part) => ['start', 'run'].includes(kindOf(part, command.text))));
  if (runnable.length === 0) continue;
  describe(`${file}, run against loopback fakes`, () => {
    // One folder per sh block: its commands are one session (a file written by one, read by the next).
    const folders = new Map<number, string>();
    const folderOf = (block: number): string => {
      if (!folders.has(block)) folders.set(block, workFolder());
      return folders.get(block) as string;
    };
    afterAll(async () => {
      await stopServer();
      for (const folder of folders.values()) rmSync(folder, { recursive: true, force: true });
    });
    for (const command of runnable) {
      it(`${command.text.slice(0, 110)}`, async () => {
        const parts = partsOf(command);
        const starts = parts.some((part) => kindOf(part, command.text) === 'start');
        // `npm ci && npm start`: CI runs the first part, the test the second; other lines run whole.
        for (const part of starts ? parts : [withoutComment(command.text)]) {
          const kind = starts ? kindOf(part, command.text) : 'run';
          if (kind === 'start') {
            await startServer(part);
          } else if (kind === 'run') {
            const text = server ? part.replaceAll('http://127.0.0.1:3000', server.url) : part;
            expect(text.includes('127.0.0.1:3000'), 'npm start runs before the curl commands of its page').toBe(false);
            const result = await run(text, text.startsWith('npm ') ? root : folderOf(command.block));
            // A command shown as refused must be refused, with what the docs quote of its message.
            const refused = /^refused: "([^"…]*)/.exec(command.text.replace(/^[^#]*#\s*/, ''))?.[1];
            if (refused === undefined) expect(result.status, `exit status; stderr:\n${result.stderr}`).toBe(0);
            else {
              expect(result.status).not.toBe(0);
              expect(result.stderr).toContain(refused.trim());
            }
            expectShown(command.shows, result.stdout);
          }
        }
      }, 90_000);
    }
  });
}

describe('what the docs commands did', () => {
  it('replayed the event the failed queue held: Gainsight received it and the queue is empty', () => {
    const custom = px.requests.filter((request) => request.resource.kind === 'events/custom' && (request.status ?? 0) >= 200 && (request.status ?? 0) < 300);
    expect(custom.map((request) => (request.body as { eventName?: string }).eventName)).toContain('Report Scheduled');
    expect(sqs.messages('gainsight-px-relay-prod-failed.fifo')).toEqual([]);
  });
});

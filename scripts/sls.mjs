#!/usr/bin/env node
/**
 * Runs the project's own Serverless Framework CLI (osls, installed as `serverless`) with an
 * environment that keeps offline commands offline:
 *
 *   npm run package                      → serverless package --stage dev (serverless.yml's default)
 *   npm run package -- --stage prod      → serverless package --stage prod
 *   npm run deploy -- --stage prod       → serverless deploy --stage prod (real credentials)
 *
 * - Telemetry and update notifications are off (they would call out to the network).
 * - Commands that never talk to AWS (package, offline, print, ...) get dummy credentials when
 *   none are configured, so the AWS SDK neither fails nor probes the instance metadata service.
 *   `deploy` and every other command keep the caller's credentials untouched.
 * - The exit code (or signal) of the CLI is passed on; SIGINT/SIGTERM are forwarded to it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { constants } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'node_modules', 'serverless', 'bin', 'serverless.js');

/** Commands that build or run locally and must work without an AWS account. */
const OFFLINE_COMMANDS = new Set(['package', 'offline', 'print', 'info-local', 'invoke-local', 'help', '--help', '-h', '--version', '-v']);

/** The environment for `args`: `process.env` plus the offline-safe defaults, caller's values win where it matters. */
export function slsEnvironment(args, base = process.env) {
  const env = { ...base };
  env.SLS_TELEMETRY_DISABLED = '1';
  env.SLS_NOTIFICATIONS_MODE = 'off';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  env.AWS_REGION ??= env.AWS_DEFAULT_REGION ?? 'us-east-1';

  const command = args.find((arg) => !arg.startsWith('-')) ?? args[0] ?? '';
  const local = OFFLINE_COMMANDS.has(command) || (command === 'invoke' && args.includes('local'));
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  if (local && !hasCredentials) {
    env.AWS_ACCESS_KEY_ID = 'AKIDUMMY';
    env.AWS_SECRET_ACCESS_KEY = 'dummy';
    env.AWS_EC2_METADATA_DISABLED = 'true';
  }
  return env;
}

/**
 * Runs `serverless <args>` and resolves with the exit code to use (128 + n after signal n).
 * SIGINT and SIGTERM received by this process are passed on to the CLI.
 */
export function runServerless(args, { env = slsEnvironment(args), cwd = root } = {}) {
  if (!existsSync(cli)) {
    console.error(`serverless CLI not found at ${cli}; run npm ci first.`);
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: 'inherit' });
    let killTimer;
    const forward = (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      // serverless-offline shuts down within a second or two; never leave a stray process behind.
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', (error) => {
      console.error(`could not start serverless: ${error.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      if (killTimer) clearTimeout(killTimer);
      resolve(code ?? 128 + (constants.signals[signal] ?? 1));
    });
  });
}

/** `--param=name=value` / `--param name=value` pairs in `args`. */
function paramsOf(args) {
  const pairs = args.flatMap((arg, index) => {
    if (arg.startsWith('--param=')) return [arg.slice('--param='.length)];
    return arg === '--param' && args[index + 1] !== undefined ? [args[index + 1]] : [];
  });
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

/**
 * True when `serverless package` / `deploy` with `args` would build a stage whose alarms notify
 * nobody: neither alarmEmail nor alarmTopicArn set, by serverless.yml (`service`, parsed) for
 * that stage or by `--param`. The `local` stage has no alarms worth hearing.
 */
export function alarmsReachNobody(args, service) {
  const command = args.find((arg) => !arg.startsWith('-'));
  if (command !== 'package' && command !== 'deploy') return false;
  const stage = stageOf(args) ?? service.provider?.stage?.match(/'([^']+)'/)?.[1] ?? 'dev';
  if (stage === 'local') return false;
  const params = { ...service.params?.default, ...service.params?.[stage], ...paramsOf(args) };
  return !params.alarmEmail && !params.alarmTopicArn;
}

/** serverless.yml, parsed (js-yaml comes with the Serverless Framework). */
export async function loadService() {
  const { default: yaml } = await import('js-yaml');
  return yaml.load(readFileSync(join(root, 'serverless.yml'), 'utf8'));
}

async function warnIfAlarmsReachNobody(args) {
  if (!alarmsReachNobody(args, await loadService())) return;
  const stage = stageOf(args) ?? 'dev';
  console.error(
    [
      '',
      `WARNING: the alarms of stage ${stage} will notify NOBODY: set a stage parameter alarmEmail (a topic is created`,
      'and subscribed) or alarmTopicArn (an existing SNS topic), in serverless.yml params or with',
      `--param=alarmEmail=ops@example.com. See docs/operations.md.`,
      '',
    ].join('\n'),
  );
}

/** The value of `--stage x` / `--stage=x` / `-s x` in `args`, if any. */
function stageOf(args) {
  for (const [index, arg] of args.entries()) {
    if (arg === '--stage' || arg === '-s') return args[index + 1];
    if (arg.startsWith('--stage=')) return arg.slice('--stage='.length);
  }
  return undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args[0] === 'deploy' && stageOf(args) === 'local') {
    // The `local` stage reads its secrets from the developer's shell and has no SSM prefix:
    // deployed, it would run without a webhook secret. It exists for `npm start` only.
    console.error('Refusing to deploy the `local` stage: it is for `npm start` only. Use e.g. --stage dev.');
    process.exitCode = 1;
  } else {
    await warnIfAlarmsReachNobody(args);
    process.exitCode = await runServerless(args);
  }
}

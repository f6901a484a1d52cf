import { createHmac, randomBytes } from 'node:crypto';
import { ConfigurationError } from '../errors.ts';
import { baseUrlFor } from './data-centers.ts';
import type { RelayEnv } from './env.ts';
import { type Settings, parseSettings } from './settings.ts';

/**
 * Building the configuration: the one place that turns raw secret and setting values (read from
 * SSM, or from the environment for local development) into what the relay runs with. The Lambda
 * loader, the scheduled run, the deep health check and the CLI all build it here.
 */

/** Who may call which door (docs/http-contract.md, docs/senders.md). */
export interface Credentials {
  /** Bearer secrets of `POST /events` and `GET /health?deep=1`. */
  webhookSecrets: readonly string[];
  /** Write keys of the tracking API (`/v1/*`): the `write-keys` parameter, else the webhook secrets. */
  writeKeys: readonly string[];
  /**
   * Local development only (configuration from the environment): a door whose list is empty is
   * open. Anywhere else an empty list opens nothing.
   */
  emptyListOpens: boolean;
}

/** Everything one invocation needs to know besides who may call. */
export interface RelayConfig {
  /** Undefined in a dry run, where nothing is sent. */
  apiKey: string | undefined;
  productKey: string;
  settings: Settings;
  baseUrl: string;
  dryRun: boolean;
  /** HMAC key naming users in logs; derived from a secret, so it never leaves the deployment. */
  logKey: Buffer;
}

/** A load's result: who may call, and the configuration or why there is none. */
export interface LoadedConfiguration {
  credentials: Credentials;
  /** A configuration error is told to authenticated callers only (docs/http-contract.md). */
  config: RelayConfig | ConfigurationError;
  /** Notes for the log (never values): ignored settings keys, auth off, forced dry run. */
  warnings: readonly string[];
}

/** Placeholder product key shown in a local dry run when none is configured. */
export const DRY_RUN_PRODUCT_KEY = 'AP-XXXXXXXXXX-2';

/** The raw secret/setting values, wherever they came from. */
export interface RawConfigValues {
  apiKey: unknown;
  productKey: unknown;
  webhookSecret: unknown;
  writeKeys: unknown;
  settings: unknown;
}

/** Every value, in the order SSM is asked for them. */
export const VALUE_KEYS = ['apiKey', 'productKey', 'webhookSecret', 'writeKeys', 'settings'] as const satisfies readonly (keyof RawConfigValues)[];

/** Where values came from: SSM parameters (all secrets required) or the local environment. */
export type ConfigSource = { kind: 'ssm'; prefix: string } | { kind: 'env' };

/** Names of the values, for messages: parameter paths or variable names, never values. */
export function nameOf(source: ConfigSource, key: keyof RawConfigValues): string {
  const names: Record<keyof RawConfigValues, [ssm: string, env: string]> = {
    apiKey: ['api-key', 'PX_API_KEY'],
    productKey: ['product-key', 'PX_PRODUCT_KEY'],
    webhookSecret: ['webhook-secret', 'WEBHOOK_SECRET'],
    writeKeys: ['write-keys', 'WRITE_KEYS'],
    settings: ['settings', 'PX_SETTINGS'],
  };
  return source.kind === 'ssm' ? `${source.prefix}/${names[key][0]}` : names[key][1];
}

const text = (value: unknown): string | undefined => {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
};

/** `a, b,,c` → `['a', 'b', 'c']`; several secrets may be active while one is rotated. */
export function splitSecrets(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(splitSecrets); // a StringList parameter
  const raw = text(value);
  return raw === undefined ? [] : raw.split(',').map((part) => part.trim()).filter((part) => part !== '');
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * True for an `https://` URL, or an `http://` one on a loopback host (local fakes and tests):
 * where a key or a secret may be sent. The relay's base URL and the CLI's `--url` both ask here.
 */
export function isHttpsOrLoopback(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && LOOPBACK.test(parsed.hostname));
}

/**
 * The Gainsight base URL: the data center's, or `GAINSIGHT_PX_BASE_URL`, which must be `https://`
 * except on a loopback host (local fakes and tests), so the API key never travels in clear text.
 */
function checkedBaseUrl(settings: Settings, override: string | undefined): string {
  const url = baseUrlFor(settings.dataCenter, override);
  if (!isHttpsOrLoopback(url)) {
    throw new ConfigurationError('GAINSIGHT_PX_BASE_URL must be an https:// URL (http:// only for a loopback host)');
  }
  return url;
}

/** The secret that keys the log hash: the API key, else a webhook secret, else this process only. */
function logKeyOf(apiKey: string | undefined, webhookSecrets: readonly string[]): Buffer {
  const material = apiKey ?? webhookSecrets[0];
  return material === undefined
    ? randomBytes(32)
    : createHmac('sha256', 'gainsight-px-relay/log-user-hash').update(material, 'utf8').digest();
}

/** The credentials, or an error when they cannot be established (the caller answers 503). */
function credentialsOf(source: ConfigSource, values: RawConfigValues, warnings: string[]): Credentials {
  const local = source.kind === 'env';
  const webhookSecrets = splitSecrets(values.webhookSecret);
  if (webhookSecrets.length === 0) {
    if (!local) throw new ConfigurationError(`SSM parameter is missing or empty: ${nameOf(source, 'webhookSecret')}`);
    warnings.push('WEBHOOK_SECRET is not set: inbound authentication is OFF (local development only)');
  }
  const writeKeys = splitSecrets(values.writeKeys);
  if (values.writeKeys === undefined || (local && writeKeys.length === 0)) {
    // No write keys: the webhook secrets serve the tracking API too (docs/senders.md).
    if (webhookSecrets.length > 0) {
      warnings.push(`${nameOf(source, 'writeKeys')} is not set: the webhook secrets also serve as tracking-API write keys`);
    }
    return { webhookSecrets, writeKeys: webhookSecrets, emptyListOpens: local };
  }
  if (writeKeys.length === 0) warnings.push(`${nameOf(source, 'writeKeys')} is empty: the tracking API refuses every request`);
  return { webhookSecrets, writeKeys, emptyListOpens: local };
}

/** The rest of the configuration; every problem is a {@link ConfigurationError}. */
function configOf(env: RelayEnv, source: ConfigSource, values: RawConfigValues, credentials: Credentials, warnings: string[]): RelayConfig {
  const { settings, warnings: settingsWarnings } = parseSettings(values.settings);
  warnings.push(...settingsWarnings);
  let apiKey = text(values.apiKey);
  let productKey = text(values.productKey);
  let dryRun = env.DRY_RUN ?? false;
  if (source.kind === 'ssm') {
    // Fail closed: a deployed relay never guesses, even in a dry run.
    const missing = [apiKey === undefined && 'apiKey', productKey === undefined && 'productKey']
      .filter((key): key is 'apiKey' | 'productKey' => key !== false)
      .map((key) => nameOf(source, key));
    if (missing.length > 0) throw new ConfigurationError(`SSM parameter is missing or empty: ${missing.join(', ')}`);
  } else {
    if (apiKey === undefined && !dryRun) {
      dryRun = true;
      warnings.push('PX_API_KEY is not set: running as a dry run, nothing is sent to Gainsight PX');
    }
    if (productKey === undefined && !dryRun) throw new ConfigurationError('PX_PRODUCT_KEY is not set');
  }
  productKey ??= DRY_RUN_PRODUCT_KEY;
  if (dryRun) apiKey = undefined;
  return {
    apiKey,
    productKey,
    settings,
    baseUrl: checkedBaseUrl(settings, env.GAINSIGHT_PX_BASE_URL),
    dryRun,
    logKey: logKeyOf(text(values.apiKey), credentials.webhookSecrets),
  };
}

/**
 * Builds the configuration from raw values. From SSM every secret is required (fail closed);
 * from the environment (local development) a missing API key means a dry run and a missing
 * webhook secret means authentication is off, each with a warning.
 *
 * @throws ConfigurationError when the credentials cannot be established (webhook secret missing
 * in SSM): nobody can be authenticated, so the caller answers every request 503.
 */
export function buildConfiguration(env: RelayEnv, source: ConfigSource, values: RawConfigValues): LoadedConfiguration {
  const warnings: string[] = [];
  const credentials = credentialsOf(source, values, warnings);
  try {
    return { credentials, config: configOf(env, source, values, credentials, warnings), warnings };
  } catch (error) {
    if (error instanceof ConfigurationError) return { credentials, config: error, warnings };
    throw error;
  }
}

/** The raw values of the local environment (`npm start`, tests, the CLI without SSM). */
export const envValues = (env: RelayEnv): RawConfigValues => ({
  apiKey: env.PX_API_KEY,
  productKey: env.PX_PRODUCT_KEY,
  webhookSecret: env.WEBHOOK_SECRET,
  writeKeys: env.WRITE_KEYS,
  settings: env.PX_SETTINGS,
});

import { ConfigurationError } from '../errors.ts';
import { baseUrlFor } from './data-centers.ts';
import type { RelayEnv } from './env.ts';
import { type Settings, parseSettings } from './settings.ts';

/** Everything one invocation needs to know, resolved from SSM or from the environment. */
export interface RelayConfig {
  /** Undefined only in a local dry run, where nothing is sent. */
  apiKey: string | undefined;
  productKey: string;
  /** Accepted bearer secrets; empty means authentication is off (local development only). */
  webhookSecrets: readonly string[];
  settings: Settings;
  baseUrl: string;
  dryRun: boolean;
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
  settings: unknown;
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

let lastSettingsInput: unknown = Symbol('none');
let lastSettings: ReturnType<typeof parseSettings> | undefined;

/** Settings are parsed once per distinct value, not once per request. */
function settingsOf(raw: unknown): ReturnType<typeof parseSettings> {
  if (raw !== lastSettingsInput || lastSettings === undefined) {
    lastSettings = parseSettings(raw);
    lastSettingsInput = raw;
  }
  return lastSettings;
}

/**
 * Builds the config from values read from SSM: every secret is required (fail closed).
 *
 * @throws ConfigurationError naming the missing parameter or the invalid setting.
 */
export function configFromSsm(env: RelayEnv, prefix: string, values: RawConfigValues): RelayConfig {
  // The cached SSM values come back identical on every warm request: build the config once.
  const last = lastSsmConfig;
  if (
    last &&
    last.env === env &&
    last.values.apiKey === values.apiKey &&
    last.values.productKey === values.productKey &&
    last.values.webhookSecret === values.webhookSecret &&
    last.values.settings === values.settings
  ) {
    return last.config;
  }
  const config = buildFromSsm(env, prefix, values);
  lastSsmConfig = { env, values: { ...values }, config };
  return config;
}

let lastSsmConfig: { env: RelayEnv; values: RawConfigValues; config: RelayConfig } | undefined;

function buildFromSsm(env: RelayEnv, prefix: string, values: RawConfigValues): RelayConfig {
  const apiKey = text(values.apiKey);
  const productKey = text(values.productKey);
  const webhookSecrets = splitSecrets(values.webhookSecret);
  const missing = [
    apiKey === undefined && `${prefix}/api-key`,
    productKey === undefined && `${prefix}/product-key`,
    webhookSecrets.length === 0 && `${prefix}/webhook-secret`,
  ].filter((name): name is string => typeof name === 'string');
  if (missing.length > 0 || productKey === undefined) {
    throw new ConfigurationError(`SSM parameter is empty: ${missing.join(', ')}`);
  }
  const { settings, warnings } = settingsOf(values.settings);
  return {
    apiKey,
    productKey,
    webhookSecrets,
    settings,
    baseUrl: baseUrlFor(settings.dataCenter, env.GAINSIGHT_PX_BASE_URL),
    dryRun: env.DRY_RUN ?? false,
    warnings,
  };
}

/**
 * Builds the config from `PX_*` / `WEBHOOK_SECRET` variables (SSM_PREFIX unset: local
 * development). Without an API key nothing can be sent, so the relay runs dry.
 */
export function configFromEnv(env: RelayEnv): RelayConfig {
  const { settings, warnings: settingsWarnings } = settingsOf(env.PX_SETTINGS);
  const warnings = [...settingsWarnings];
  const apiKey = env.PX_API_KEY;
  let dryRun = env.DRY_RUN ?? false;
  if (apiKey === undefined && !dryRun) {
    dryRun = true;
    warnings.push('PX_API_KEY is not set: running as a dry run, nothing is sent to Gainsight PX');
  }
  let productKey = env.PX_PRODUCT_KEY;
  if (productKey === undefined) {
    if (!dryRun) throw new ConfigurationError('PX_PRODUCT_KEY is not set');
    productKey = DRY_RUN_PRODUCT_KEY;
  }
  const webhookSecrets = splitSecrets(env.WEBHOOK_SECRET);
  if (webhookSecrets.length === 0) {
    warnings.push('WEBHOOK_SECRET is not set: inbound authentication is OFF (local development only)');
  }
  return {
    apiKey,
    productKey,
    webhookSecrets,
    settings,
    baseUrl: baseUrlFor(settings.dataCenter, env.GAINSIGHT_PX_BASE_URL),
    dryRun,
    warnings,
  };
}

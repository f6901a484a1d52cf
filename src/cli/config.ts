import { baseUrlFor } from '../config/data-centers.ts';
import { readEnv } from '../config/env.ts';
import { DRY_RUN_PRODUCT_KEY, splitSecrets } from '../config/relay-config.ts';
import { type Settings, parseSettings } from '../config/settings.ts';
import { SSM_PARAMETERS } from '../config/ssm.ts';
import { ConfigurationError, UnavailableError } from '../errors.ts';
import type { MappingContext } from '../mapping/index.ts';

/**
 * Configuration for the command-line tools, from the same sources as the relay (SPEC §2): the
 * `PX_*` environment variables, or the SSM parameters under a prefix, read directly with one
 * `GetParameters` call (WithDecryption), without middy. The AWS SDK's own variables
 * (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_SSM`, ...) apply as usual.
 */

export interface CliConfig {
  /** Undefined only in a dry run. */
  apiKey: string | undefined;
  productKey: string;
  settings: Settings;
  baseUrl: string;
  dryRun: boolean;
  /** The webhook secret(s), for posting to a deployed relay. */
  webhookSecrets: readonly string[];
  /** Where the configuration came from, for the run's header line. */
  source: string;
  warnings: readonly string[];
}

export interface CliConfigOptions {
  env: Record<string, string | undefined>;
  ssmPrefix?: string;
  dryRun?: boolean;
  /** Tests inject a client; otherwise `@aws-sdk/client-ssm` is loaded on demand. */
  getParameters?: (names: string[]) => Promise<Record<string, string>>;
}

const text = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
};

/** GetParameters with decryption, as the relay does: name → value of those that exist. */
export async function readSsmParameters(names: string[]): Promise<Record<string, string>> {
  const { SSMClient, GetParametersCommand } = await import('@aws-sdk/client-ssm');
  const client = new SSMClient({ maxAttempts: 3 });
  try {
    const answer = await client.send(new GetParametersCommand({ Names: names, WithDecryption: true }));
    return Object.fromEntries(
      (answer.Parameters ?? []).flatMap((parameter) =>
        parameter.Name !== undefined && parameter.Value !== undefined ? [[parameter.Name, parameter.Value]] : [],
      ),
    );
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    throw new UnavailableError(`SSM GetParameters failed (${reason})`, { code: 'ssm_unavailable', cause: error });
  } finally {
    client.destroy();
  }
}

/**
 * Resolves the configuration.
 *
 * @throws ConfigurationError for a missing key or parameter, invalid settings or environment.
 * @throws UnavailableError when SSM cannot be reached.
 */
export async function loadCliConfig(options: CliConfigOptions): Promise<CliConfig> {
  const env = readEnv(options.env);
  const dryRun = options.dryRun === true || env.DRY_RUN === true;
  let raw: { apiKey?: string; productKey?: string; webhookSecret?: string; settings?: string };
  let source: string;
  const prefix = options.ssmPrefix?.replace(/\/+$/, '');
  if (prefix !== undefined) {
    if (!prefix.startsWith('/')) throw new ConfigurationError(`--ssm-prefix must start with "/" (got "${prefix}")`);
    const names = Object.fromEntries(Object.entries(SSM_PARAMETERS).map(([key, name]) => [key, `${prefix}/${name}`])) as Record<
      keyof typeof SSM_PARAMETERS,
      string
    >;
    const values = await (options.getParameters ?? readSsmParameters)(Object.values(names));
    raw = {
      apiKey: values[names.apiKey],
      productKey: values[names.productKey],
      webhookSecret: values[names.webhookSecret],
      settings: values[names.settings],
    };
    const missing = [
      !dryRun && text(raw.apiKey) === undefined && names.apiKey,
      text(raw.productKey) === undefined && names.productKey,
    ].filter((name): name is string => typeof name === 'string');
    if (missing.length > 0) throw new ConfigurationError(`SSM parameter not found or empty: ${missing.join(', ')}`);
    source = `SSM ${prefix}`;
  } else {
    raw = { apiKey: env.PX_API_KEY, productKey: env.PX_PRODUCT_KEY, webhookSecret: env.WEBHOOK_SECRET, settings: env.PX_SETTINGS };
    if (!dryRun && text(raw.apiKey) === undefined) {
      throw new ConfigurationError('PX_API_KEY is not set: set PX_API_KEY and PX_PRODUCT_KEY, pass --ssm-prefix, or use --dry-run');
    }
    if (!dryRun && text(raw.productKey) === undefined) throw new ConfigurationError('PX_PRODUCT_KEY is not set');
    source = 'environment';
  }
  const { settings, warnings } = parseSettings(raw.settings);
  return {
    apiKey: dryRun ? undefined : text(raw.apiKey),
    productKey: text(raw.productKey) ?? DRY_RUN_PRODUCT_KEY,
    settings,
    baseUrl: baseUrlFor(settings.dataCenter, env.GAINSIGHT_PX_BASE_URL),
    dryRun,
    webhookSecrets: splitSecrets(raw.webhookSecret),
    source,
    warnings,
  };
}

export const mappingContextOf = (config: CliConfig): MappingContext => ({
  settings: config.settings,
  productKey: config.productKey,
});

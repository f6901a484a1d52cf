import { readEnv } from '../config/env.ts';
import {
  type ConfigSource,
  type LoadedConfiguration,
  type RawConfigValues,
  type RelayConfig,
  VALUE_KEYS,
  buildConfiguration,
  envValues,
  nameOf,
} from '../config/relay-config.ts';
import { ConfigurationError, UnavailableError } from '../errors.ts';
import type { MappingContext } from '../mapping/index.ts';

/**
 * Configuration for the command-line tools, from the same sources as the relay (docs/configuration.md): the
 * `PX_*` environment variables, or the SSM parameters under a prefix, read directly with one
 * `GetParameters` call (WithDecryption), without middy. The AWS SDK's own variables
 * (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_SSM`, ...) apply as usual.
 */

/** The relay's configuration, plus what the CLI needs to say and to post to a deployed relay. */
export interface CliConfig extends RelayConfig {
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
 * Resolves the configuration with the relay's own builder (`config/relay-config.ts`): from the
 * SSM parameters under a prefix (every secret required, as in a deployed relay), or from the
 * `PX_*` variables, where a missing API key is an error unless the run is a dry run.
 *
 * @throws ConfigurationError for a missing key or parameter, invalid settings or environment.
 * @throws UnavailableError when SSM cannot be reached.
 */
export async function loadCliConfig(options: CliConfigOptions): Promise<CliConfig> {
  const env = readEnv(options.dryRun ? { ...options.env, DRY_RUN: 'true' } : options.env);
  const prefix = options.ssmPrefix?.replace(/\/+$/, '');
  let loaded: LoadedConfiguration;
  let source: string;
  if (prefix !== undefined) {
    if (!prefix.startsWith('/')) throw new ConfigurationError(`--ssm-prefix must start with "/" (got "${prefix}")`);
    const ssm: ConfigSource = { kind: 'ssm', prefix };
    const found = await (options.getParameters ?? readSsmParameters)(VALUE_KEYS.map((key) => nameOf(ssm, key)));
    const values = Object.fromEntries(VALUE_KEYS.map((key) => [key, found[nameOf(ssm, key)]])) as unknown as RawConfigValues;
    loaded = buildConfiguration(env, ssm, values);
    source = `SSM ${prefix}`;
  } else {
    loaded = buildConfiguration(env, { kind: 'env' }, envValues(env));
    source = 'environment';
  }
  const config = loaded.config;
  if (config instanceof ConfigurationError) throw config;
  if (config.dryRun && env.DRY_RUN !== true) {
    throw new ConfigurationError('PX_API_KEY is not set: set PX_API_KEY and PX_PRODUCT_KEY, pass --ssm-prefix, or use --dry-run');
  }
  const warnings = loaded.warnings.filter((warning) => !/inbound authentication|write keys|running as a dry run/.test(warning));
  return { ...config, webhookSecrets: loaded.credentials.webhookSecrets, source, warnings };
}

export const mappingContextOf = (config: CliConfig): MappingContext => ({
  settings: config.settings,
  productKey: config.productKey,
});

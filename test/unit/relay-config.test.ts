import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BASE_URLS, baseUrlFor } from '../../src/config/data-centers.ts';
import { type RelayEnv, readEnv } from '../../src/config/env.ts';
import {
  type ConfigSource,
  DRY_RUN_PRODUCT_KEY,
  type LoadedConfiguration,
  type RawConfigValues,
  type RelayConfig,
  buildConfiguration,
  envValues,
  nameOf,
  splitSecrets,
} from '../../src/config/relay-config.ts';
import { ConfigurationError } from '../../src/errors.ts';

const API_KEY = 'px-key-VALUE-0001';
const PRODUCT_KEY = 'AP-PRODUCT-0001-2';
const SECRET = 'hook-secret-VALUE-0001';
const WRITE_KEY = 'write-key-VALUE-0001';
const PREFIX = '/gainsight-px-relay/test';
const SSM: ConfigSource = { kind: 'ssm', prefix: PREFIX };
const ENV: ConfigSource = { kind: 'env' };
const SECRET_VALUES = [API_KEY, PRODUCT_KEY, SECRET, WRITE_KEY];

/** A local-development environment with every secret set but the write keys; `undefined` removes a variable. */
const makeEnv = (overrides: Record<string, string | undefined> = {}): RelayEnv =>
  readEnv({ PX_API_KEY: API_KEY, PX_PRODUCT_KEY: PRODUCT_KEY, WEBHOOK_SECRET: SECRET, ...overrides });

/** Values as read from SSM, all present but the optional ones unless overridden. */
const makeSsmValues = (overrides: Partial<RawConfigValues> = {}): RawConfigValues => ({
  apiKey: API_KEY,
  productKey: PRODUCT_KEY,
  webhookSecret: SECRET,
  writeKeys: undefined,
  settings: undefined,
  ...overrides,
});

/** Builds from the local environment, as the loader does without SSM_PREFIX. */
const fromEnv = (env: RelayEnv): LoadedConfiguration => buildConfiguration(env, ENV, envValues(env));

/** Builds from SSM values under PREFIX. */
const fromSsm = (values: RawConfigValues, env: RelayEnv = makeEnv()): LoadedConfiguration => buildConfiguration(env, SSM, values);

/** The configuration of a load that must have one. */
const configOf = (loaded: LoadedConfiguration): RelayConfig => {
  if (loaded.config instanceof ConfigurationError) throw new Error(`expected a configuration, got: ${loaded.config.message}`);
  return loaded.config;
};

/** The configuration error of a load whose credentials loaded but whose configuration did not. */
const configErrorOf = (loaded: LoadedConfiguration): ConfigurationError => {
  expect(loaded.config).toBeInstanceOf(ConfigurationError);
  return loaded.config as ConfigurationError;
};

/** Runs `build` and returns the ConfigurationError it must throw (no credentials could be established). */
const thrownErrorOf = (build: () => unknown): ConfigurationError => {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
};

const expectNoSecretIn = (text: string): void => {
  for (const value of SECRET_VALUES) expect(text).not.toContain(value);
};

describe('data centers', () => {
  it.each([
    ['US', 'https://api.aptrinsic.com/v1'],
    ['EU', 'https://api-eu.aptrinsic.com/v1'],
    ['US2', 'https://api-us2.aptrinsic.com/v1'],
  ] as const)('uses %s → %s', (dataCenter, url) => {
    // Act
    const actual = baseUrlFor(dataCenter);
    // Assess
    expect(actual).toBe(url);
    expect(BASE_URLS[dataCenter]).toBe(url);
  });

  it('lets an override win over the data center, without its trailing slash', () => {
    // Act
    const actual = baseUrlFor('EU', 'http://127.0.0.1:4010/v1/');
    // Assess
    expect(actual).toBe('http://127.0.0.1:4010/v1');
  });

  it('ignores a blank override', () => {
    // Act
    const actual = baseUrlFor('US2', '  ');
    // Assess
    expect(actual).toBe('https://api-us2.aptrinsic.com/v1');
  });
});

describe('splitSecrets', () => {
  it('splits comma-separated secrets, trimming each and dropping empty ones', () => {
    // Act
    const secrets = splitSecrets(' old-secret , new-secret,, ');
    // Assess
    expect(secrets).toEqual(['old-secret', 'new-secret']);
  });

  it('flattens a StringList given as an array', () => {
    // Act
    const secrets = splitSecrets(['first', 'second, third']);
    // Assess
    expect(secrets).toEqual(['first', 'second', 'third']);
  });

  it.each([undefined, null, '', ' , ', {}])('finds no secret in %j', (value) => {
    // Act
    const secrets = splitSecrets(value);
    // Assess
    expect(secrets).toEqual([]);
  });
});

describe('nameOf', () => {
  it.each([
    ['apiKey', `${PREFIX}/api-key`, 'PX_API_KEY'],
    ['productKey', `${PREFIX}/product-key`, 'PX_PRODUCT_KEY'],
    ['webhookSecret', `${PREFIX}/webhook-secret`, 'WEBHOOK_SECRET'],
    ['writeKeys', `${PREFIX}/write-keys`, 'WRITE_KEYS'],
    ['settings', `${PREFIX}/settings`, 'PX_SETTINGS'],
  ] as const)('names %s %s in SSM and %s in the environment', (key, parameter, variable) => {
    // Act
    const names = [nameOf(SSM, key), nameOf(ENV, key)];
    // Assess
    expect(names).toEqual([parameter, variable]);
  });
});

describe('buildConfiguration from the environment', () => {
  it('uses the PX_* variables and sends for real', () => {
    // Act
    const loaded = fromEnv(makeEnv({ WRITE_KEYS: WRITE_KEY }));
    // Assess
    const config = configOf(loaded);
    expect(config.apiKey).toBe(API_KEY);
    expect(config.productKey).toBe(PRODUCT_KEY);
    expect(config.dryRun).toBe(false);
    expect(config.baseUrl).toBe('https://api.aptrinsic.com/v1');
    expect(loaded.credentials).toEqual({ webhookSecrets: [SECRET], writeKeys: [WRITE_KEY], emptyListOpens: true });
    expect(loaded.warnings).toEqual([]);
  });

  it('forces a dry run with a warning when PX_API_KEY is not set', () => {
    // Act
    const loaded = fromEnv(makeEnv({ PX_API_KEY: undefined }));
    // Assess
    const config = configOf(loaded);
    expect(config.dryRun).toBe(true);
    expect(config.apiKey).toBeUndefined();
    expect(loaded.warnings.filter((warning) => warning.includes('PX_API_KEY'))).toHaveLength(1);
  });

  it('forces a dry run even when DRY_RUN=false but PX_API_KEY is not set', () => {
    // Act
    const config = configOf(fromEnv(makeEnv({ PX_API_KEY: undefined, DRY_RUN: 'false' })));
    // Assess
    expect(config.dryRun).toBe(true);
  });

  it('honours DRY_RUN=true with an API key, keeping the key out of the configuration (nothing is sent)', () => {
    // Act
    const config = configOf(fromEnv(makeEnv({ DRY_RUN: 'true' })));
    // Assess
    expect(config.dryRun).toBe(true);
    expect(config.apiKey).toBeUndefined();
  });

  it('turns authentication off with a warning when WEBHOOK_SECRET is not set', () => {
    // Act
    const loaded = fromEnv(makeEnv({ WEBHOOK_SECRET: undefined }));
    // Assess
    expect(loaded.credentials).toEqual({ webhookSecrets: [], writeKeys: [], emptyListOpens: true });
    expect(loaded.warnings.filter((warning) => warning.includes('WEBHOOK_SECRET'))).toHaveLength(1);
    expect(loaded.config).not.toBeInstanceOf(ConfigurationError);
  });

  it('splits comma-separated webhook secrets and trims them', () => {
    // Act
    const loaded = fromEnv(makeEnv({ WEBHOOK_SECRET: 'old-secret , new-secret' }));
    // Assess
    expect(loaded.credentials.webhookSecrets).toEqual(['old-secret', 'new-secret']);
  });

  it('uses the placeholder product key in a dry run without PX_PRODUCT_KEY', () => {
    // Act
    const config = configOf(fromEnv(makeEnv({ PX_PRODUCT_KEY: undefined, DRY_RUN: 'true' })));
    // Assess
    expect(config.productKey).toBe(DRY_RUN_PRODUCT_KEY);
    expect(DRY_RUN_PRODUCT_KEY).toBe('AP-XXXXXXXXXX-2');
  });

  it('uses the placeholder product key when the dry run is forced by a missing API key', () => {
    // Act
    const config = configOf(fromEnv(makeEnv({ PX_API_KEY: undefined, PX_PRODUCT_KEY: undefined })));
    // Assess
    expect(config.productKey).toBe(DRY_RUN_PRODUCT_KEY);
  });

  it('refuses to send without PX_PRODUCT_KEY, naming it without leaking a secret, and still knows who may call', () => {
    // Act
    const loaded = fromEnv(makeEnv({ PX_PRODUCT_KEY: undefined }));
    // Assess
    const error = configErrorOf(loaded);
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('PX_PRODUCT_KEY');
    expectNoSecretIn(error.message);
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });

  it.each([
    ['EU', 'https://api-eu.aptrinsic.com/v1'],
    ['US2', 'https://api-us2.aptrinsic.com/v1'],
    ['US', 'https://api.aptrinsic.com/v1'],
  ])('takes the base URL from dataCenter %s in PX_SETTINGS', (dataCenter, url) => {
    // Act
    const config = configOf(fromEnv(makeEnv({ PX_SETTINGS: JSON.stringify({ dataCenter }) })));
    // Assess
    expect(config.settings.dataCenter).toBe(dataCenter);
    expect(config.baseUrl).toBe(url);
  });

  it('lets GAINSIGHT_PX_BASE_URL override the data center', () => {
    // Act
    const config = configOf(fromEnv(makeEnv({ PX_SETTINGS: '{"dataCenter":"EU"}', GAINSIGHT_PX_BASE_URL: 'http://127.0.0.1:4010/v1' })));
    // Assess
    expect(config.baseUrl).toBe('http://127.0.0.1:4010/v1');
  });

  it('passes the settings warnings on, without the ignored values', () => {
    // Act
    const loaded = fromEnv(makeEnv({ PX_SETTINGS: '{"apiKey":"pasted-key-VALUE-9"}' }));
    // Assess
    expect(loaded.warnings.some((warning) => warning.includes('apiKey'))).toBe(true);
    expect(loaded.warnings.join('\n')).not.toContain('pasted-key-VALUE-9');
  });

  it('answers invalid PX_SETTINGS with a ConfigurationError naming the setting, and still knows who may call', () => {
    // Act
    const loaded = fromEnv(makeEnv({ PX_SETTINGS: '{"pageEvents":"yes"}' }));
    // Assess
    expect(configErrorOf(loaded).message).toContain('pageEvents');
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });
});

describe('buildConfiguration: GAINSIGHT_PX_BASE_URL', () => {
  it.each([
    'https://gainsight-proxy.example.com/v1',
    'http://127.0.0.1:4010/v1',
    'http://127.5.6.7/v1',
    'http://localhost:4010/v1',
    'http://LOCALHOST:4010/v1',
    'http://[::1]:4010/v1',
  ])('accepts %s', (url) => {
    // Act
    const config = configOf(fromEnv(makeEnv({ GAINSIGHT_PX_BASE_URL: url })));
    // Assess
    expect(config.baseUrl).toBe(url);
  });

  it.each([
    ['plain http to a remote host', 'http://api.aptrinsic.com/v1'],
    ['plain http to a host that starts like localhost', 'http://localhost.attacker.example/v1'],
    ['plain http to a host that starts like 127.0.0.1', 'http://127.0.0.1.nip.io/v1'],
    ['plain http with loopback-looking credentials', 'http://127.0.0.1:4010@internal-host-ABC/v1'],
    ['plain http to any address', 'http://0.0.0.0:4010/v1'],
    ['another scheme', 'ftp://example.com/v1'],
    ['another scheme to loopback', 'gopher://127.0.0.1/v1'],
    ['no scheme', 'api.aptrinsic.com/v1'],
    ['a scheme without a host', 'http://'],
    ['a host with a space', 'https://exa mple.com'],
  ])('answers %s (%s) with a ConfigurationError naming the variable, not its value', (_label, url) => {
    // Act
    const loaded = fromEnv(makeEnv({ GAINSIGHT_PX_BASE_URL: url }));
    // Assess
    const error = configErrorOf(loaded);
    expect(error.statusCode).toBe(503);
    expect(error.code).toBe('configuration_error');
    expect(error.message).toBe('GAINSIGHT_PX_BASE_URL must be an https:// URL (http:// only for a loopback host)');
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });

  it('applies the same rule to a configuration read from SSM', () => {
    // Act
    const loaded = fromSsm(makeSsmValues(), makeEnv({ GAINSIGHT_PX_BASE_URL: 'http://api-eu.aptrinsic.com/v1' }));
    // Assess
    expect(configErrorOf(loaded).message).toContain('GAINSIGHT_PX_BASE_URL');
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });
});

describe('buildConfiguration from SSM', () => {
  it('builds the configuration from the SSM values', () => {
    // Act
    const loaded = fromSsm(makeSsmValues({ settings: { dataCenter: 'us2', pageEvents: true } }));
    // Assess
    const config = configOf(loaded);
    expect(config.apiKey).toBe(API_KEY);
    expect(config.productKey).toBe(PRODUCT_KEY);
    expect(config.settings.pageEvents).toBe(true);
    expect(config.baseUrl).toBe('https://api-us2.aptrinsic.com/v1');
    expect(config.dryRun).toBe(false);
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });

  it.each([
    ['apiKey', 'api-key'],
    ['productKey', 'product-key'],
  ] as const)('fails closed when %s is missing, naming %s under the prefix, even with the PX_* variables set', (field, parameter) => {
    // Act
    const loaded = fromSsm(makeSsmValues({ [field]: undefined }));
    // Assess
    const error = configErrorOf(loaded);
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain(`${PREFIX}/${parameter}`);
    expectNoSecretIn(error.message);
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });

  it('names both missing keys at once', () => {
    // Act
    const error = configErrorOf(fromSsm(makeSsmValues({ apiKey: undefined, productKey: '' })));
    // Assess
    expect(error.message).toContain(`${PREFIX}/api-key`);
    expect(error.message).toContain(`${PREFIX}/product-key`);
  });

  it('cannot establish the credentials without the webhook secret: it throws, naming the parameter only', () => {
    // Act
    const error = thrownErrorOf(() => fromSsm(makeSsmValues({ webhookSecret: undefined, writeKeys: WRITE_KEY })));
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain(`${PREFIX}/webhook-secret`);
    expectNoSecretIn(error.message);
  });

  it.each([
    ['an empty string', ''],
    ['a blank string', '   '],
    ['only commas', ' , ,'],
    ['null', null],
  ])('treats a webhook secret that is %s as missing', (_label, webhookSecret) => {
    // Act
    const error = thrownErrorOf(() => fromSsm(makeSsmValues({ webhookSecret })));
    // Assess
    expect(error.message).toContain(`${PREFIX}/webhook-secret`);
  });

  it('accepts webhook secrets from a StringList parameter', () => {
    // Act
    const loaded = fromSsm(makeSsmValues({ webhookSecret: ['old-secret', 'new-secret'] }));
    // Assess
    expect(loaded.credentials.webhookSecrets).toEqual(['old-secret', 'new-secret']);
  });

  it('splits comma-separated webhook secrets', () => {
    // Act
    const loaded = fromSsm(makeSsmValues({ webhookSecret: 'a-secret, b-secret' }));
    // Assess
    expect(loaded.credentials.webhookSecrets).toEqual(['a-secret', 'b-secret']);
  });

  it('honours DRY_RUN and GAINSIGHT_PX_BASE_URL from the environment', () => {
    // Act
    const config = configOf(
      fromSsm(makeSsmValues({ settings: '{"dataCenter":"EU"}' }), makeEnv({ DRY_RUN: 'true', GAINSIGHT_PX_BASE_URL: 'http://127.0.0.1:4010/v1/' })),
    );
    // Assess
    expect(config.dryRun).toBe(true);
    expect(config.apiKey).toBeUndefined();
    expect(config.baseUrl).toBe('http://127.0.0.1:4010/v1');
  });

  it('still requires the API key in a dry run', () => {
    // Act
    const error = configErrorOf(fromSsm(makeSsmValues({ apiKey: undefined }), makeEnv({ DRY_RUN: 'true' })));
    // Assess
    expect(error.message).toContain(`${PREFIX}/api-key`);
  });

  it('answers invalid settings from SSM with a ConfigurationError, and still knows who may call', () => {
    // Act
    const loaded = fromSsm(makeSsmValues({ settings: '{not json' }));
    // Assess
    expect(configErrorOf(loaded).statusCode).toBe(503);
    expect(loaded.credentials.webhookSecrets).toEqual([SECRET]);
  });
});

describe('buildConfiguration: write keys', () => {
  it('takes the write keys from WRITE_KEYS, apart from the webhook secrets', () => {
    // Act
    const loaded = fromEnv(makeEnv({ WRITE_KEYS: 'wk-one, wk-two' }));
    // Assess
    expect(loaded.credentials).toEqual({ webhookSecrets: [SECRET], writeKeys: ['wk-one', 'wk-two'], emptyListOpens: true });
    expect(loaded.warnings.some((warning) => warning.includes('WRITE_KEYS'))).toBe(false);
  });

  it('takes the write keys from a write-keys StringList parameter', () => {
    // Act
    const loaded = fromSsm(makeSsmValues({ writeKeys: [WRITE_KEY, 'wk-two'] }));
    // Assess
    expect(loaded.credentials).toEqual({ webhookSecrets: [SECRET], writeKeys: [WRITE_KEY, 'wk-two'], emptyListOpens: false });
  });

  it.each([
    ['the environment', () => fromEnv(makeEnv()), 'WRITE_KEYS', true],
    ['the environment, with a blank WRITE_KEYS', () => fromEnv(makeEnv({ WRITE_KEYS: ' , ' })), 'WRITE_KEYS', true],
    ['SSM, without a write-keys parameter', () => fromSsm(makeSsmValues()), `${PREFIX}/write-keys`, false],
  ])('lets the webhook secrets serve as write keys when %s has none, with one warning naming %s', (_label, build, name, emptyListOpens) => {
    // Act
    const loaded = build();
    // Assess
    expect(loaded.credentials).toEqual({ webhookSecrets: [SECRET], writeKeys: [SECRET], emptyListOpens });
    expect(loaded.warnings).toEqual([`${name} is not set: the webhook secrets also serve as tracking-API write keys`]);
    expectNoSecretIn(loaded.warnings.join('\n'));
  });

  it.each([
    ['a blank string', ' , '],
    ['an empty string', ''],
    ['a StringList of blanks', ['', ' ']],
  ])('opens the tracking API to nobody when the write-keys parameter exists but is %s, with one warning', (_label, writeKeys) => {
    // Act
    const loaded = fromSsm(makeSsmValues({ writeKeys }));
    // Assess
    expect(loaded.credentials).toEqual({ webhookSecrets: [SECRET], writeKeys: [], emptyListOpens: false });
    expect(loaded.warnings).toEqual([`${PREFIX}/write-keys is empty: the tracking API refuses every request`]);
    expect(loaded.config).not.toBeInstanceOf(ConfigurationError);
  });

  it('keeps write keys without webhook secrets locally: the webhook route is then open, the tracking API is not', () => {
    // Act
    const loaded = fromEnv(makeEnv({ WEBHOOK_SECRET: undefined, WRITE_KEYS: WRITE_KEY }));
    // Assess
    expect(loaded.credentials).toEqual({ webhookSecrets: [], writeKeys: [WRITE_KEY], emptyListOpens: true });
  });

  it('never writes a write key into a warning or an error', () => {
    // Act
    const loaded = fromSsm(makeSsmValues({ writeKeys: WRITE_KEY, apiKey: undefined, settings: '{"apiKey":"x"}' }));
    // Assess
    expectNoSecretIn(`${loaded.warnings.join('\n')} ${configErrorOf(loaded).message}`);
  });
});

describe('buildConfiguration: log key', () => {
  const hmacOf = (material: string): Buffer => createHmac('sha256', 'gainsight-px-relay/log-user-hash').update(material, 'utf8').digest();

  it('derives the log key from the API key, never the key itself', () => {
    // Act
    const config = configOf(fromSsm(makeSsmValues()));
    // Assess
    expect(config.logKey.equals(hmacOf(API_KEY))).toBe(true);
    expect(config.logKey.toString('utf8')).not.toContain(API_KEY);
  });

  it('gives the same log key for the same API key, whatever the other secrets', () => {
    // Act
    const first = configOf(fromSsm(makeSsmValues()));
    const second = configOf(fromSsm(makeSsmValues({ webhookSecret: 'rotated-secret', productKey: 'AP-OTHER-2' })));
    // Assess
    expect(second.logKey.equals(first.logKey)).toBe(true);
  });

  it('gives another log key for another API key', () => {
    // Act
    const first = configOf(fromSsm(makeSsmValues()));
    const second = configOf(fromSsm(makeSsmValues({ apiKey: 'px-key-VALUE-0002' })));
    // Assess
    expect(second.logKey.equals(first.logKey)).toBe(false);
  });

  it('derives it from the first webhook secret without an API key', () => {
    // Act
    const config = configOf(fromEnv(makeEnv({ PX_API_KEY: undefined, WEBHOOK_SECRET: `${SECRET}, second-secret` })));
    // Assess
    expect(config.logKey.equals(hmacOf(SECRET))).toBe(true);
  });

  it('draws a random 32-byte key without any secret', () => {
    // Act
    const first = configOf(fromEnv(makeEnv({ PX_API_KEY: undefined, WEBHOOK_SECRET: undefined })));
    const second = configOf(fromEnv(makeEnv({ PX_API_KEY: undefined, WEBHOOK_SECRET: undefined })));
    // Assess
    expect(first.logKey).toHaveLength(32);
    expect(first.logKey.equals(second.logKey)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { BASE_URLS, baseUrlFor } from '../../src/config/data-centers.ts';
import { type RelayEnv, readEnv } from '../../src/config/env.ts';
import {
  DRY_RUN_PRODUCT_KEY,
  type RawConfigValues,
  configFromEnv,
  configFromSsm,
  splitSecrets,
} from '../../src/config/relay-config.ts';
import { ConfigurationError } from '../../src/errors.ts';

const API_KEY = 'px-key-VALUE-0001';
const PRODUCT_KEY = 'AP-PRODUCT-0001-2';
const SECRET = 'hook-secret-VALUE-0001';
const PREFIX = '/gainsight-px-relay/test';

/** A local-development environment with every secret set; `undefined` removes a variable. */
const makeEnv = (overrides: Record<string, string | undefined> = {}): RelayEnv =>
  readEnv({ PX_API_KEY: API_KEY, PX_PRODUCT_KEY: PRODUCT_KEY, WEBHOOK_SECRET: SECRET, ...overrides });

/** Values as read from SSM, all present unless overridden. */
const makeSsmValues = (overrides: Partial<RawConfigValues> = {}): RawConfigValues => ({
  apiKey: API_KEY,
  productKey: PRODUCT_KEY,
  webhookSecret: SECRET,
  settings: undefined,
  ...overrides,
});

/** Runs `build` and returns the ConfigurationError it must throw. */
const configurationErrorOf = (build: () => unknown): ConfigurationError => {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
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

describe('configFromEnv', () => {
  it('uses the PX_* variables and sends for real', () => {
    // Act
    const config = configFromEnv(makeEnv());
    // Assess
    expect(config.apiKey).toBe(API_KEY);
    expect(config.productKey).toBe(PRODUCT_KEY);
    expect(config.webhookSecrets).toEqual([SECRET]);
    expect(config.dryRun).toBe(false);
    expect(config.baseUrl).toBe('https://api.aptrinsic.com/v1');
    expect(config.warnings).toEqual([]);
  });

  it('forces a dry run with a warning when PX_API_KEY is not set', () => {
    // Act
    const config = configFromEnv(makeEnv({ PX_API_KEY: undefined }));
    // Assess
    expect(config.dryRun).toBe(true);
    expect(config.apiKey).toBeUndefined();
    expect(config.warnings.filter((warning) => warning.includes('PX_API_KEY'))).toHaveLength(1);
  });

  it('forces a dry run even when DRY_RUN=false but PX_API_KEY is not set', () => {
    // Act
    const config = configFromEnv(makeEnv({ PX_API_KEY: undefined, DRY_RUN: 'false' }));
    // Assess
    expect(config.dryRun).toBe(true);
  });

  it('honours DRY_RUN=true with an API key', () => {
    // Act
    const config = configFromEnv(makeEnv({ DRY_RUN: 'true' }));
    // Assess
    expect(config.dryRun).toBe(true);
    expect(config.apiKey).toBe(API_KEY);
  });

  it('turns authentication off with a warning when WEBHOOK_SECRET is not set', () => {
    // Act
    const config = configFromEnv(makeEnv({ WEBHOOK_SECRET: undefined }));
    // Assess
    expect(config.webhookSecrets).toEqual([]);
    expect(config.warnings.filter((warning) => warning.includes('WEBHOOK_SECRET'))).toHaveLength(1);
  });

  it('splits comma-separated webhook secrets and trims them', () => {
    // Act
    const config = configFromEnv(makeEnv({ WEBHOOK_SECRET: 'old-secret , new-secret' }));
    // Assess
    expect(config.webhookSecrets).toEqual(['old-secret', 'new-secret']);
  });

  it('uses the placeholder product key in a dry run without PX_PRODUCT_KEY', () => {
    // Act
    const config = configFromEnv(makeEnv({ PX_PRODUCT_KEY: undefined, DRY_RUN: 'true' }));
    // Assess
    expect(config.productKey).toBe(DRY_RUN_PRODUCT_KEY);
    expect(DRY_RUN_PRODUCT_KEY).toBe('AP-XXXXXXXXXX-2');
  });

  it('uses the placeholder product key when the dry run is forced by a missing API key', () => {
    // Act
    const config = configFromEnv(makeEnv({ PX_API_KEY: undefined, PX_PRODUCT_KEY: undefined }));
    // Assess
    expect(config.productKey).toBe(DRY_RUN_PRODUCT_KEY);
  });

  it('refuses to send without PX_PRODUCT_KEY, naming it without leaking the API key', () => {
    // Act
    const error = configurationErrorOf(() => configFromEnv(makeEnv({ PX_PRODUCT_KEY: undefined })));
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('PX_PRODUCT_KEY');
    expect(error.message).not.toContain(API_KEY);
    expect(error.message).not.toContain(SECRET);
  });

  it.each([
    ['EU', 'https://api-eu.aptrinsic.com/v1'],
    ['US2', 'https://api-us2.aptrinsic.com/v1'],
    ['US', 'https://api.aptrinsic.com/v1'],
  ])('takes the base URL from dataCenter %s in PX_SETTINGS', (dataCenter, url) => {
    // Act
    const config = configFromEnv(makeEnv({ PX_SETTINGS: JSON.stringify({ dataCenter }) }));
    // Assess
    expect(config.settings.dataCenter).toBe(dataCenter);
    expect(config.baseUrl).toBe(url);
  });

  it('lets GAINSIGHT_PX_BASE_URL override the data center', () => {
    // Act
    const config = configFromEnv(
      makeEnv({ PX_SETTINGS: '{"dataCenter":"EU"}', GAINSIGHT_PX_BASE_URL: 'http://127.0.0.1:4010/v1' }),
    );
    // Assess
    expect(config.baseUrl).toBe('http://127.0.0.1:4010/v1');
  });

  it('passes the settings warnings on, without the ignored values', () => {
    // Act
    const config = configFromEnv(makeEnv({ PX_SETTINGS: '{"apiKey":"pasted-key-VALUE-9"}' }));
    // Assess
    expect(config.warnings.some((warning) => warning.includes('apiKey'))).toBe(true);
    expect(config.warnings.join('\n')).not.toContain('pasted-key-VALUE-9');
  });

  it('rejects invalid PX_SETTINGS as a ConfigurationError', () => {
    // Act
    const error = configurationErrorOf(() => configFromEnv(makeEnv({ PX_SETTINGS: '{"pageEvents":"yes"}' })));
    // Assess
    expect(error.message).toContain('pageEvents');
  });
});

describe('configFromSsm', () => {
  it('builds the config from the SSM values', () => {
    // Act
    const config = configFromSsm(makeEnv(), PREFIX, makeSsmValues({ settings: { dataCenter: 'us2', pageEvents: true } }));
    // Assess
    expect(config.apiKey).toBe(API_KEY);
    expect(config.productKey).toBe(PRODUCT_KEY);
    expect(config.webhookSecrets).toEqual([SECRET]);
    expect(config.settings.pageEvents).toBe(true);
    expect(config.baseUrl).toBe('https://api-us2.aptrinsic.com/v1');
    expect(config.dryRun).toBe(false);
  });

  it.each([
    ['apiKey', 'api-key'],
    ['productKey', 'product-key'],
    ['webhookSecret', 'webhook-secret'],
  ] as const)('fails closed when %s is missing, naming %s under the prefix', (field, parameter) => {
    // Act
    const error = configurationErrorOf(() => configFromSsm(makeEnv(), PREFIX, makeSsmValues({ [field]: undefined })));
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain(`${PREFIX}/${parameter}`);
    for (const value of [API_KEY, PRODUCT_KEY, SECRET]) expect(error.message).not.toContain(value);
  });

  it.each([
    ['an empty string', ''],
    ['a blank string', '   '],
    ['only commas', ' , ,'],
  ])('treats a webhook secret that is %s as missing', (_label, webhookSecret) => {
    // Act
    const error = configurationErrorOf(() => configFromSsm(makeEnv(), PREFIX, makeSsmValues({ webhookSecret })));
    // Assess
    expect(error.message).toContain(`${PREFIX}/webhook-secret`);
  });

  it('names every missing parameter at once', () => {
    // Act
    const error = configurationErrorOf(() =>
      configFromSsm(makeEnv(), PREFIX, { apiKey: undefined, productKey: '', webhookSecret: null, settings: undefined }),
    );
    // Assess
    expect(error.message).toContain(`${PREFIX}/api-key`);
    expect(error.message).toContain(`${PREFIX}/product-key`);
    expect(error.message).toContain(`${PREFIX}/webhook-secret`);
  });

  it('accepts webhook secrets from a StringList parameter', () => {
    // Act
    const config = configFromSsm(makeEnv(), PREFIX, makeSsmValues({ webhookSecret: ['old-secret', 'new-secret'] }));
    // Assess
    expect(config.webhookSecrets).toEqual(['old-secret', 'new-secret']);
  });

  it('splits comma-separated webhook secrets', () => {
    // Act
    const config = configFromSsm(makeEnv(), PREFIX, makeSsmValues({ webhookSecret: 'a-secret, b-secret' }));
    // Assess
    expect(config.webhookSecrets).toEqual(['a-secret', 'b-secret']);
  });

  it('honours DRY_RUN and GAINSIGHT_PX_BASE_URL from the environment', () => {
    // Act
    const config = configFromSsm(
      makeEnv({ DRY_RUN: 'true', GAINSIGHT_PX_BASE_URL: 'http://127.0.0.1:4010/v1/' }),
      PREFIX,
      makeSsmValues({ settings: '{"dataCenter":"EU"}' }),
    );
    // Assess
    expect(config.dryRun).toBe(true);
    expect(config.baseUrl).toBe('http://127.0.0.1:4010/v1');
  });

  it('rejects invalid settings from SSM as a ConfigurationError', () => {
    // Act
    const error = configurationErrorOf(() => configFromSsm(makeEnv(), PREFIX, makeSsmValues({ settings: '{not json' })));
    // Assess
    expect(error.statusCode).toBe(503);
  });
});

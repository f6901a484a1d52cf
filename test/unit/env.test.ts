import { describe, expect, it } from 'vitest';
import { isDeployed, readEnv } from '../../src/config/env.ts';
import { loaderFor } from '../../src/config/loader.ts';
import { ConfigurationError } from '../../src/errors.ts';

type Env = Record<string, string | undefined>;

const API_KEY_VALUE = 'px-api-key-DO-NOT-LEAK';
const SECRET_VALUE = 'webhook-secret-DO-NOT-LEAK';

/** Runs readEnv and returns the ConfigurationError it must throw. */
const configurationErrorOf = (source: Env): ConfigurationError => {
  try {
    readEnv(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected readEnv to throw a ConfigurationError');
};

describe('readEnv: defaults', () => {
  it('caches SSM values for 300 seconds and budgets 8000 ms for delivery by default', () => {
    // Act
    const env = readEnv({});
    // Assess
    expect(env.SSM_CACHE_TTL_SECONDS).toBe(300);
    expect(env.DELIVERY_BUDGET_MS).toBe(8000);
  });

  it('leaves every optional variable unset', () => {
    // Act
    const env = readEnv({});
    // Assess
    expect(env.SSM_PREFIX).toBeUndefined();
    expect(env.PX_API_KEY).toBeUndefined();
    expect(env.PX_PRODUCT_KEY).toBeUndefined();
    expect(env.WEBHOOK_SECRET).toBeUndefined();
    expect(env.WRITE_KEYS).toBeUndefined();
    expect(env.PX_SETTINGS).toBeUndefined();
    expect(env.GAINSIGHT_PX_BASE_URL).toBeUndefined();
    expect(env.DRY_RUN).toBeUndefined();
    expect(env.DEAD_LETTER_QUEUE_URL).toBeUndefined();
    expect(env.FAILED_QUEUE_URL).toBeUndefined();
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe(false);
    expect(env.IS_OFFLINE).toBeUndefined();
  });

  it('ignores variables it does not know', () => {
    // Act
    const env = readEnv({ AWS_REGION: 'eu-west-1', PATH: '/usr/bin' });
    // Assess
    expect(env).not.toHaveProperty('AWS_REGION');
    expect(env).not.toHaveProperty('PATH');
  });
});

describe('readEnv: empty strings count as unset', () => {
  it.each([
    'SSM_PREFIX',
    'PX_API_KEY',
    'PX_PRODUCT_KEY',
    'WEBHOOK_SECRET',
    'WRITE_KEYS',
    'PX_SETTINGS',
    'GAINSIGHT_PX_BASE_URL',
    'DRY_RUN',
    'DEAD_LETTER_QUEUE_URL',
    'FAILED_QUEUE_URL',
  ])('treats an empty %s as unset', (name) => {
    // Act
    const env = readEnv({ [name]: '' }) as Record<string, unknown>;
    // Assess
    expect(env[name]).toBeUndefined();
  });

  it('treats a blank SSM_PREFIX as unset', () => {
    // Act
    const env = readEnv({ SSM_PREFIX: '   ' });
    // Assess
    expect(env.SSM_PREFIX).toBeUndefined();
  });

  it('falls back to the defaults for empty numbers', () => {
    // Act
    const env = readEnv({ SSM_CACHE_TTL_SECONDS: '', DELIVERY_BUDGET_MS: ' ' });
    // Assess
    expect(env.SSM_CACHE_TTL_SECONDS).toBe(300);
    expect(env.DELIVERY_BUDGET_MS).toBe(8000);
  });
});

describe('readEnv: SSM_PREFIX', () => {
  it('keeps a prefix that starts with "/"', () => {
    // Act
    const env = readEnv({ SSM_PREFIX: '/gainsight-px-relay/prod' });
    // Assess
    expect(env.SSM_PREFIX).toBe('/gainsight-px-relay/prod');
  });

  it.each([
    ['/gainsight-px-relay/prod/', '/gainsight-px-relay/prod'],
    ['/gainsight-px-relay/prod///', '/gainsight-px-relay/prod'],
    [' /gainsight-px-relay/dev/ ', '/gainsight-px-relay/dev'],
  ])('drops the trailing slashes of %j', (given, expected) => {
    // Act
    const env = readEnv({ SSM_PREFIX: given });
    // Assess
    expect(env.SSM_PREFIX).toBe(expected);
  });

  it('rejects a prefix that does not start with "/", naming the variable', () => {
    // Act
    const error = configurationErrorOf({ SSM_PREFIX: 'gainsight-px-relay/prod' });
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('SSM_PREFIX');
  });
});

describe('readEnv: DRY_RUN', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
  ])('reads %j as %s', (given, expected) => {
    // Act
    const env = readEnv({ DRY_RUN: given });
    // Assess
    expect(env.DRY_RUN).toBe(expected);
  });

  it.each(['maybe', '2', 'truthy', 'y e s'])('rejects %j, naming the variable', (given) => {
    // Act
    const error = configurationErrorOf({ DRY_RUN: given });
    // Assess
    expect(error.message).toContain('DRY_RUN');
  });
});

describe('readEnv: URLs', () => {
  it.each(['http://127.0.0.1:4010/v1', 'https://api-eu.aptrinsic.com/v1', 'http://api.aptrinsic.com/v1', 'not a url'])(
    'takes GAINSIGHT_PX_BASE_URL %j as it is: the configuration checks it, for authenticated callers only',
    (url) => {
      // Act
      const env = readEnv({ GAINSIGHT_PX_BASE_URL: url });
      // Assess
      expect(env.GAINSIGHT_PX_BASE_URL).toBe(url);
    },
  );

  it('trims GAINSIGHT_PX_BASE_URL', () => {
    // Act
    const env = readEnv({ GAINSIGHT_PX_BASE_URL: ' https://api-eu.aptrinsic.com/v1 ' });
    // Assess
    expect(env.GAINSIGHT_PX_BASE_URL).toBe('https://api-eu.aptrinsic.com/v1');
  });

  it.each(['DEAD_LETTER_QUEUE_URL', 'FAILED_QUEUE_URL'])('rejects a %s that is not an http(s) URL, naming the variable', (name) => {
    // Act
    const error = configurationErrorOf({ [name]: 'sqs/queue-name' });
    // Assess
    expect(error.message).toContain(name);
  });

  it('accepts an SQS queue URL for DEAD_LETTER_QUEUE_URL', () => {
    // Prepare
    const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/gainsight-px-relay-parked-prod';
    // Act
    const env = readEnv({ DEAD_LETTER_QUEUE_URL: url });
    // Assess
    expect(env.DEAD_LETTER_QUEUE_URL).toBe(url);
  });
});

describe('readEnv: numbers', () => {
  it('reads SSM_CACHE_TTL_SECONDS and DELIVERY_BUDGET_MS as whole numbers', () => {
    // Act
    const env = readEnv({ SSM_CACHE_TTL_SECONDS: '1', DELIVERY_BUDGET_MS: '2500' });
    // Assess
    expect(env.SSM_CACHE_TTL_SECONDS).toBe(1);
    expect(env.DELIVERY_BUDGET_MS).toBe(2500);
  });

  it.each([
    // At least 1 s: a cache that never holds would cost an SSM call per request, authenticated or not.
    ['SSM_CACHE_TTL_SECONDS', '0'],
    ['SSM_CACHE_TTL_SECONDS', '-1'],
    ['SSM_CACHE_TTL_SECONDS', 'five'],
    ['DELIVERY_BUDGET_MS', '12.5'],
    ['DELIVERY_BUDGET_MS', '99'],
  ])('rejects %s=%j, naming the variable', (name, value) => {
    // Act
    const error = configurationErrorOf({ [name]: value });
    // Assess
    expect(error.message).toContain(name);
  });
});

describe('readEnv: errors', () => {
  it('names every invalid variable in one error', () => {
    // Act
    const error = configurationErrorOf({ DRY_RUN: 'maybe', SSM_PREFIX: 'relative' });
    // Assess
    expect(error.message).toContain('DRY_RUN');
    expect(error.message).toContain('SSM_PREFIX');
  });

  it('never includes the PX_API_KEY or WEBHOOK_SECRET values', () => {
    // Act
    const error = configurationErrorOf({
      PX_API_KEY: API_KEY_VALUE,
      WEBHOOK_SECRET: SECRET_VALUE,
      DRY_RUN: 'maybe',
      DEAD_LETTER_QUEUE_URL: 'nope',
    });
    // Assess
    const visible = `${error.message} ${JSON.stringify(error.details ?? null)}`;
    expect(visible).not.toContain(API_KEY_VALUE);
    expect(visible).not.toContain(SECRET_VALUE);
  });

  it('does not echo an invalid value', () => {
    // Act
    const error = configurationErrorOf({ FAILED_QUEUE_URL: 'gopher://internal-host-ABC' });
    // Assess
    expect(error.message).not.toContain('internal-host-ABC');
  });
});

describe('readEnv: WRITE_KEYS', () => {
  it('keeps the write keys as given, trimmed: the configuration splits them', () => {
    // Act
    const env = readEnv({ WRITE_KEYS: ' key-one, key-two ' });
    // Assess
    expect(env.WRITE_KEYS).toBe('key-one, key-two');
  });
});

describe('readEnv: where the function runs', () => {
  it('reads a set AWS_LAMBDA_FUNCTION_NAME as true', () => {
    // Act
    const env = readEnv({ AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay' });
    // Assess
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe(true);
  });

  it.each(['', '  '])('reads AWS_LAMBDA_FUNCTION_NAME=%j as unset', (value) => {
    // Act
    const env = readEnv({ AWS_LAMBDA_FUNCTION_NAME: value });
    // Assess
    expect(env.AWS_LAMBDA_FUNCTION_NAME).toBe(false);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['TRUE', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
    ['', undefined],
    ['  ', undefined],
  ])('reads IS_OFFLINE=%j as a flag: %s', (value, expected) => {
    // Act
    const env = readEnv({ IS_OFFLINE: value });
    // Assess
    expect(env.IS_OFFLINE).toBe(expected);
  });

  it.each(['offline', 'maybe'])('rejects IS_OFFLINE=%j, naming the variable', (value) => {
    // Act
    const error = configurationErrorOf({ IS_OFFLINE: value });
    // Assess
    expect(error.message).toContain('IS_OFFLINE');
  });
});

describe('isDeployed', () => {
  it.each([
    ['in AWS Lambda', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay' }, true],
    ['in AWS Lambda with IS_OFFLINE=false', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay', IS_OFFLINE: 'false' }, true],
    ['in AWS Lambda with IS_OFFLINE=0', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay', IS_OFFLINE: '0' }, true],
    ['in AWS Lambda with a blank IS_OFFLINE', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay', IS_OFFLINE: ' ' }, true],
    ['under serverless-offline', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-local-relay', IS_OFFLINE: 'true' }, false],
    ['under serverless-offline with IS_OFFLINE=1', { AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-local-relay', IS_OFFLINE: '1' }, false],
    ['with IS_OFFLINE alone', { IS_OFFLINE: 'true' }, false],
    ['in tests and the CLI (neither set)', {}, false],
    ['with a blank function name', { AWS_LAMBDA_FUNCTION_NAME: ' ' }, false],
  ])('tells %s: deployed %s', (_label, source: Env, expected) => {
    // Act
    const deployed = isDeployed(readEnv(source));
    // Assess
    expect(deployed).toBe(expected);
  });
});

describe('a deployed function with IS_OFFLINE=false', () => {
  it('still fails closed with a blank SSM_PREFIX, never serving the env secrets', async () => {
    // Prepare: a Lambda whose environment carries secrets and a stray IS_OFFLINE=false
    const env = readEnv({
      AWS_LAMBDA_FUNCTION_NAME: 'gainsight-px-relay-prod-relay',
      IS_OFFLINE: 'false',
      SSM_PREFIX: '',
      PX_API_KEY: API_KEY_VALUE,
      PX_PRODUCT_KEY: 'AP-ENV-0001-2',
      WEBHOOK_SECRET: SECRET_VALUE,
    });
    const loader = loaderFor(env);
    // Act
    const answer = await loader.get().catch((error: unknown) => error);
    // Assess
    expect(answer).toBeInstanceOf(ConfigurationError);
    expect((answer as ConfigurationError).message).toBe(
      'SSM_PREFIX is not set: a deployed function takes its secrets from SSM only, so every event is refused',
    );
    expect((answer as ConfigurationError).message).not.toContain(SECRET_VALUE);
  });
});

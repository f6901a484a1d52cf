import * as z from 'zod';
import { ConfigurationError } from '../errors.ts';

/**
 * Environment variables of docs/configuration.md, parsed once per container. Empty strings count as unset, so
 * a stage can blank a variable (the `local` stage blanks `SSM_PREFIX`).
 */

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const flag = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const text = value?.trim().toLowerCase() ?? '';
    if (text === '') return undefined;
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    ctx.addIssue({ code: 'custom', message: 'expected true or false' });
    return z.NEVER;
  });

const integer = (fallback: number, min: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const number = Number(value);
      if (!Number.isInteger(number) || number < min) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number >= ${min}` });
        return z.NEVER;
      }
      return number;
    });

const httpUrl = optionalText.refine(
  (value) => value === undefined || /^https?:\/\/[^\s]+$/i.test(value),
  'expected an http(s) URL',
);

/** Set by the Lambda runtime: `AWS_LAMBDA_FUNCTION_NAME` tells a function from a test or the CLI. */
const present = z
  .string()
  .optional()
  .transform((value) => value !== undefined && value.trim() !== '');

export const EnvSchema = z.object({
  SSM_PREFIX: optionalText
    .refine((value) => value === undefined || value.startsWith('/'), 'must start with "/"')
    .transform((value) => value?.replace(/\/+$/, '')),
  PX_API_KEY: optionalText,
  PX_PRODUCT_KEY: optionalText,
  WEBHOOK_SECRET: optionalText,
  WRITE_KEYS: optionalText,
  PX_SETTINGS: optionalText,
  // Checked when the configuration is built (https only, loopback excepted): a bad value is a
  // configuration error for authenticated callers, not a reason to refuse everyone.
  GAINSIGHT_PX_BASE_URL: optionalText,
  DRY_RUN: flag,
  DEAD_LETTER_QUEUE_URL: httpUrl,
  FAILED_QUEUE_URL: httpUrl,
  // At least 1 s: a cache that never holds would let every request, authenticated or not, cost
  // an SSM call with decryption.
  SSM_CACHE_TTL_SECONDS: integer(300, 1),
  DELIVERY_BUDGET_MS: integer(8000, 100),
  // direct: deliver during the request, park what fails; queued: put every event on the parking
  // queue and let the consumer deliver it (docs/configuration.md, docs/http-contract.md).
  DELIVERY_MODE: z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? 'direct' : value.trim().toLowerCase()))
    .pipe(z.enum(['direct', 'queued'])),
  // Gainsight calls one invocation may have in flight at once (fleet limits, docs/scaling.md).
  GAINSIGHT_MAX_IN_FLIGHT: integer(4, 1),
  AWS_LAMBDA_FUNCTION_NAME: present,
  // Set to "true" by serverless-offline (`npm start`); only a true value counts, so a stray
  // IS_OFFLINE=false in a deployed function cannot reopen the environment fallback.
  IS_OFFLINE: flag,
});
export type RelayEnv = z.infer<typeof EnvSchema>;

/** Queued delivery needs the queue it delivers through. */
const QueuedNeedsQueue = EnvSchema.refine((env) => env.DELIVERY_MODE !== 'queued' || env.DEAD_LETTER_QUEUE_URL !== undefined, {
  path: ['DEAD_LETTER_QUEUE_URL'],
  message: 'is required when DELIVERY_MODE is queued',
});

/**
 * True in a deployed function (running in AWS Lambda, not under serverless-offline): secrets then
 * come from SSM only, and a blank `SSM_PREFIX` fails closed (docs/configuration.md).
 */
export const isDeployed = (env: RelayEnv): boolean => env.AWS_LAMBDA_FUNCTION_NAME && env.IS_OFFLINE !== true;

/**
 * Reads the relay's environment. Secret variables are only ever named in errors, never quoted.
 *
 * @throws ConfigurationError listing the invalid variables.
 */
export function readEnv(source: Record<string, string | undefined> = process.env): RelayEnv {
  const result = QueuedNeedsQueue.safeParse(source);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`Invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}

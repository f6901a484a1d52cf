import { createHash } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Observability singletons. The logger writes structured JSON; `LOG_LEVEL` (or
 * `POWERTOOLS_LOG_LEVEL`) sets the level. Never log whole events, traits or properties: they
 * carry personal data. Never log a secret: log names of parameters, not values.
 */
export const SERVICE_NAME = 'gainsight-px-relay';

export const logger = new Logger({ serviceName: SERVICE_NAME });

/**
 * A stable, non-reversible stand-in for a user id in logs: the first 16 hex digits of its
 * SHA-256. Enough to follow one user's events through the logs without storing who they are.
 */
export function userHash(userId: string | undefined): string | undefined {
  return userId === undefined ? undefined : createHash('sha256').update(userId, 'utf8').digest('hex').slice(0, 16);
}

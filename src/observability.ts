import { Logger } from '@aws-lambda-powertools/logger';

/**
 * Observability singletons. The logger writes structured JSON; `LOG_LEVEL` (or
 * `POWERTOOLS_LOG_LEVEL`) sets the level. Never log whole events, traits or properties: they
 * carry personal data. Never log a secret: log names of parameters, not values.
 */
export const SERVICE_NAME = 'gainsight-px-relay';

export const logger = new Logger({ serviceName: SERVICE_NAME });

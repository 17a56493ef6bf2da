/**
 * Node prints process warnings (deprecations, a dependency's notices such as
 * the AWS SDK's Node version warning) as plain text on stderr, which would
 * break the one-JSON-object-per-line log. This replaces Node's printer with a
 * `warn` line through the application logger. Call it before the Nest
 * application is created: with `bufferLogs`, warnings raised while modules
 * load are kept until the pino logger is attached.
 */
import { Logger } from '@nestjs/common';

export function logProcessWarnings(): void {
  const logger = new Logger('Process');
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    logger.warn(`${warning.name}${warning.code ? ` ${warning.code}` : ''}: ${warning.message}`);
  });
}

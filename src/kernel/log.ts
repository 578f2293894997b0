import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear. This is the safety net; the first line of defence is
 * that request/response objects, headers, bodies and rows are never passed to the logger at all,
 * and secrets are `Secret` instances that serialize as `[redacted]`.
 */
export const REDACT_PATHS = [
  'authorization', '*.authorization', 'headers', '*.headers',
  'password', '*.password', 'token', '*.token', 'key', '*.key', 'api_key', '*.api_key',
  'secret', '*.secret', 'credentials', '*.credentials', 'body', '*.body', 'rows', '*.rows',
  'prompt', '*.prompt', 'subject_token', 'actor_token', 'client_secret',
];

/** Structured JSON logger. `level` from config; `destination` for tests. */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options = {
    level: opts.level ?? process.env.GATEHOUSE_LOG_LEVEL ?? 'info',
    base: { service: 'gatehouse' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

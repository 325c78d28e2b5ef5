/**
 * The root logger (pino). Made once at the composition root and injected; components take child loggers.
 * Logs are data: constant messages, variables in fields, errors under `err`.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

/**
 * Fields never written to a log: session and key-manager tokens, authorization headers, private keys
 * (pino `redact` paths, one level of nesting under any key as well).
 */
export const REDACT_PATHS: readonly string[] = [
  'sessionToken',
  'keyManagerToken',
  'token',
  'privateKey',
  'authorization',
  'headers.authorization',
  'headers.sessionToken',
  'headers.keyManagerToken',
  '*.sessionToken',
  '*.keyManagerToken',
  '*.token',
  '*.privateKey',
  '*.authorization',
];

/**
 * Creates the root logger writing JSON lines to `destination` (default: stderr, so stdout stays free for
 * command output), or, with `pretty`, human-readable colored lines to stdout (pino-pretty; for a terminal).
 * `level` default: `info`.
 */
export function createLogger(
  options: { level?: LevelWithSilent; destination?: DestinationStream; pretty?: boolean } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { name: 'chorus' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    options.pretty === true
      ? pretty({ destination: 1, sync: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' })
      : (options.destination ?? pino.destination({ dest: 2, sync: true })),
  );
}

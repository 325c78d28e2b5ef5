/**
 * The root logger (pino). Made once at the composition root and injected; components take child loggers.
 * Logs are data: constant messages, variables in fields, errors under `err`.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

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
 * Creates the root logger writing JSON lines to `destination` (default: stderr, synchronously, so stdout stays
 * free for command output). `level` default: `info`.
 */
export function createLogger(options: { level?: LevelWithSilent; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { name: 'chorus' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** JSON lines on stdout, written asynchronously (the daemon's output when stdout is not a terminal). */
export function createStdoutDestination(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

/**
 * Human-readable colored lines on stdout (pino-pretty), for a terminal. pino-pretty is imported here, on first
 * use, so that a process writing JSON lines never loads it.
 */
export async function createPrettyDestination(): Promise<DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({ destination: 1, sync: true, ignore: 'pid,hostname,name', translateTime: 'HH:MM:ss.l' });
}

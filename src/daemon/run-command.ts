/**
 * `chorus run`: the daemon until SIGTERM/SIGINT.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import { runDaemon } from './run-daemon.ts';
import { onStopSignals } from './stop-signals.ts';

function flush(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}

/**
 * Starts the daemon and waits. The first SIGTERM or SIGINT stops it in order (no new reads, events in flight
 * finish, what finished is acknowledged, logs flushed) and resolves 0; a second signal exits at once. A fatal
 * datafeed error resolves 1 after the same orderly stop.
 *
 * @throws as `runDaemon` when the daemon cannot start.
 */
export async function runCommand(config: Config, log: Logger): Promise<number> {
  const daemon = await runDaemon(config, log);
  const stopped = new Promise<number>((resolve) => {
    const remove = onStopSignals((signal) => {
      log.info({ signal }, 'stop signal received');
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    });
    void daemon.failed.then(async () => {
      remove();
      await daemon.stop().catch(() => undefined);
      resolve(1);
    });
  });
  const code = await stopped;
  await flush(log);
  return code;
}

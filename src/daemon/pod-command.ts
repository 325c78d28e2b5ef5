/**
 * `chorus pod`: the embedded pod alone, until SIGTERM/SIGINT.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import { ChorusError } from '../errors.ts';
import { startConfiguredPod } from './start-configured-pod.ts';
import { onStopSignals } from './stop-signals.ts';

/**
 * Starts the pod of `config.embeddedPod` (on `port` when given) and resolves 0 once a stop signal closed it.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when the config has no `embeddedPod`; CHORUS_ERR_POD_START.
 */
export async function podCommand(config: Config, port: number | undefined, log: Logger): Promise<number> {
  if (config.embeddedPod === undefined) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', 'embeddedPod: the config defines no embedded pod');
  }
  const pod = await startConfiguredPod({ ...config.embeddedPod, ...(port === undefined ? {} : { port }) }, log);
  log.info({ url: pod.url }, 'embedded pod running; stop with Ctrl-C');
  await new Promise<void>((resolve) => {
    onStopSignals(() => void pod.close().then(resolve));
  });
  return 0;
}

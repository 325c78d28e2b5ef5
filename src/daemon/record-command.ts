/**
 * `chorus record`: records a live datafeed into a file `chorus replay` reads (JSON Lines of datafeed read
 * responses).
 */
import { createWriteStream } from 'node:fs';
import type { Logger } from 'pino';
import { concatMap, defer, lastValueFrom, takeWhile } from 'rxjs';
import type { Config } from '../config/config-schema.ts';
import { createAgentDatafeedSource } from '../datafeed/agent-datafeed-source.ts';
import { createAgentHttp } from '../datafeed/agent-http.ts';
import { createSymphonySession } from '../datafeed/symphony-session.ts';
import { ChorusError } from '../errors.ts';
import { readPrivateKey } from './private-key.ts';
import { onStopSignals } from './stop-signals.ts';

/**
 * Reads the datafeed of the configured bot and appends every non-empty read response to `out` as one JSON
 * line `{"events": [...], "ackId": "..."}`; a batch is acknowledged only once its line is written. Uses its
 * own datafeed (tag `datafeed.tag`, default `chorus-record`), so it takes no events from a running bot:
 * every datafeed receives every event; with `datafeed.includeInvisible` the feed it creates carries the events
 * of invisible rooms too. Stops on SIGTERM/SIGINT, or after `limit` events.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when the config lacks the pod or bot fields.
 */
export async function recordCommand(options: {
  readonly config: Config;
  readonly out: string;
  readonly limit: number | undefined;
  readonly log: Logger;
}): Promise<number> {
  const { config, log } = options;
  const need = (value: string | undefined, field: string): string => {
    if (value === undefined) throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${field}: required to record`);
    return value;
  };
  const agentUrl = need(config.agent?.url, 'agent.url');
  const http = createAgentHttp();
  const session = createSymphonySession({
    podUrl: need(config.pod?.url, 'pod.url'),
    keyManagerUrl: config.keyManager?.url, // a pod with Simplified Key Delivery needs none
    agentUrl,
    username: need(config.bot.username, 'bot.username'),
    privateKeyPem: readPrivateKey(config),
    http,
    log,
  });
  const source = createAgentDatafeedSource({
    agentUrl,
    session,
    http,
    log,
    tag: config.datafeed.tag ?? 'chorus-record',
    includeInvisible: config.datafeed.includeInvisible,
    readTimeoutMs: config.datafeed.readTimeoutMs,
    retry: config.datafeed.retry,
  });
  const file = createWriteStream(options.out, { flags: 'a' });
  const removeSignals = onStopSignals(() => void source.stop());
  let recorded = 0;
  try {
    await lastValueFrom(
      source.batches$.pipe(
        concatMap((batch) =>
          defer(async () => {
            if (batch.events.length > 0) {
              const line = `${JSON.stringify({ events: batch.events, ackId: batch.ackId })}\n`;
              await new Promise<void>((resolve, reject) => file.write(line, (err) => (err ? reject(err) : resolve())));
              recorded += batch.events.length;
              log.info({ events: batch.events.length, recorded }, 'batch recorded');
            }
            batch.settle('ack');
            return recorded;
          }),
        ),
        takeWhile((count) => options.limit === undefined || count < options.limit, true),
      ),
      { defaultValue: 0 },
    );
    await source.stop();
  } finally {
    removeSignals();
    await new Promise<void>((resolve) => file.end(resolve));
    await http.close();
  }
  log.info({ out: options.out, recorded }, 'recording finished');
  return recorded;
}

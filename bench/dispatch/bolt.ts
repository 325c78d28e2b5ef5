/**
 * Slack Bolt: `app.processEvent({ body, ack })` for each Slack body (Events API `event_callback` for messages
 * and app mentions, slash-command bodies), awaited one after another, with a receiver that does nothing (no
 * HTTP server, no socket). Five `app.command` handlers (each acks, as Bolt requires) and an `app_mention`
 * handler. `botId` and `botUserId` are given, so Bolt never calls `auth.test`.
 */
import { App, LogLevel, type Receiver } from '@slack/bolt';
import { createHandlerWork, runDispatch, splitFirst } from '../lib/child.ts';
import { SLACK } from '../lib/workload.ts';

const work = createHandlerWork();

const noopReceiver: Receiver = {
  init: () => undefined,
  start: async () => undefined,
  stop: async () => undefined,
};
const ack = async (): Promise<void> => undefined;

await runDispatch({
  name: 'Slack Bolt',
  platform: 'slack',
  work,
  async setup() {
    const app = new App({
      token: 'xoxb-0000000000-0000000000000-benchbenchbenchbenchbench',
      botId: SLACK.botId,
      botUserId: SLACK.botUser,
      receiver: noopReceiver,
      logLevel: LogLevel.ERROR,
    });
    app.command('/buy', async ({ command, ack }) => {
      await ack();
      work.command('/buy', ...splitFirst(command.text));
    });
    app.command('/sell', async ({ command, ack }) => {
      await ack();
      work.command('/sell', ...splitFirst(command.text));
    });
    app.command('/quote', async ({ command, ack }) => {
      await ack();
      work.command('/quote', command.text, '');
    });
    app.command('/assign', async ({ command, ack }) => {
      await ack();
      work.command('/assign', ...splitFirst(command.text));
    });
    app.command('/remind', async ({ command, ack }) => {
      await ack();
      work.command('/remind', ...splitFirst(command.text));
    });
    app.event('app_mention', async ({ event }) => work.mention(event.text));
    return async (lines) => {
      for (const line of lines) await app.processEvent({ body: JSON.parse(line) as Record<string, unknown>, ack });
    };
  },
});

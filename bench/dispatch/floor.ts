/**
 * The floor: JSON.parse of the same Symphony V4Events, one regex over the PresentationML and a Map lookup of
 * the command word. No validation, no entity resolution, no ordering: nothing that does the job can be much
 * faster in JavaScript.
 */
import { createHandlerWork, runDispatch, splitFirst } from '../lib/child.ts';
import { COMMANDS, SYMPHONY_BOT, type CommandName } from '../lib/workload.ts';

const work = createHandlerWork();

// An optional leading entity span (its text captured), then an optional command word and its arguments.
const MESSAGE = /^<div[^>]*>(?:<span class="entity" data-entity-id="[^"]*">([^<]*)<\/span>)?\s*(?:(\/[a-z]+)\s(.*))?/;
const BOT_MENTION = `@${SYMPHONY_BOT.displayName}`;

type WireMessage = { message: string; data?: string };

await runDispatch({
  name: 'floor',
  platform: 'symphony',
  work,
  async setup() {
    const handlers = new Map<string, (args: string) => void>(
      COMMANDS.map((name: CommandName) => [name, (args: string) => work.command(name, ...splitFirst(args))]),
    );
    return async (lines) => {
      for (const line of lines) {
        const event = JSON.parse(line) as { payload: { messageSent: { message: WireMessage } } };
        const message = event.payload.messageSent.message;
        const match = MESSAGE.exec(message.message);
        if (match === null || match[1] !== BOT_MENTION || message.data?.includes(SYMPHONY_BOT.userId) !== true) continue;
        const handler = match[2] === undefined ? undefined : handlers.get(match[2]);
        if (handler !== undefined) handler(match[3] ?? '');
        else work.mention(message.message);
      }
    };
  },
});

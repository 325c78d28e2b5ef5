/**
 * Hubot: `robot.receive(new TextMessage(user, text, id))` for each message, awaited one after another, the
 * way an adapter hands messages over. A robot named `chorus` without its HTTP server, with an adapter that
 * sends nothing; five `robot.hear` command listeners and a `robot.respond` listener for messages addressed to
 * the bot (`@chorus ...`). Hubot 14's command bus and catch-all fallback run as they do in any Hubot.
 */
import { Adapter, Robot, TextMessage, User } from 'hubot';
import { createHandlerWork, runDispatch } from '../lib/child.ts';
import { HUBOT_NAME } from '../lib/workload.ts';

const work = createHandlerWork();

type WireMessage = { id: string; user: { id: string; name: string; room: string }; room: string; text: string };

await runDispatch({
  name: 'Hubot',
  platform: 'hubot',
  work,
  async setup() {
    process.env['HUBOT_LOG_LEVEL'] ??= 'error';
    class NullAdapter extends Adapter {
      override async send(): Promise<void> {}
      override async reply(): Promise<void> {}
      override async run(): Promise<void> {
        this.emit('connected');
      }
      override close(): void {}
    }
    const robot = new Robot({ use: (r: Robot) => new NullAdapter(r) }, false, HUBOT_NAME);
    await robot.loadAdapter();
    robot.hear(/^\/buy (\S+) (\S+)$/, (res) => work.command('/buy', res.match[1] ?? '', res.match[2] ?? ''));
    robot.hear(/^\/sell (\S+) (\S+)$/, (res) => work.command('/sell', res.match[1] ?? '', res.match[2] ?? ''));
    robot.hear(/^\/quote (\S+)$/, (res) => work.command('/quote', res.match[1] ?? '', ''));
    robot.hear(/^\/assign (@\S+) (.+)$/, (res) => work.command('/assign', res.match[1] ?? '', res.match[2] ?? ''));
    robot.hear(/^\/remind (\S+) (.+)$/, (res) => work.command('/remind', res.match[1] ?? '', res.match[2] ?? ''));
    robot.respond(/(.*)/, (res) => work.mention(res.match[1] ?? ''));
    await robot.run();
    return async (lines) => {
      for (const line of lines) {
        const wire = JSON.parse(line) as WireMessage;
        await robot.receive(new TextMessage(new User(wire.user.id, { name: wire.user.name, room: wire.room }), wire.text, wire.id));
      }
    };
  },
});

/**
 * Starts the embedded pod of the configuration (`embeddedPod`), with a transcript of every message posted
 * in it, for `chorus run` and `chorus pod`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.ts';
import { parseEntityJSON, parsePresentationML } from '../events/presentation-ml.ts';
import type { EmbeddedPod } from '../pod/create-embedded-pod.ts';

/** The running embedded pod and its demo. */
export type RunningPod = Pick<EmbeddedPod, 'url' | 'privateKeyPem' | 'close'> & {
  /**
   * Once a datafeed exists (events posted before it would reach no bot, as on a real pod), posts the
   * configured demo messages and logs how to talk to the bot. Gives up silently after 10 s without a feed.
   */
  startDemo(log: Logger): Promise<void>;
};

/**
 * Starts the pod on `config.port` (127.0.0.1). Every message posted in it is logged at info by the
 * `transcript` component with its stream, author and text: the embedded pod shows its own traffic so a
 * local run reads as a conversation (the bot's own logs never carry message text above debug).
 *
 * @throws ChorusError CHORUS_ERR_POD_START when the port is taken or the keys folder is not writable.
 */
export async function startConfiguredPod(config: NonNullable<Config['embeddedPod']>, log: Logger): Promise<RunningPod> {
  const transcript = log.child({ component: 'transcript' });
  const names = new Map(config.streams.map((stream) => [stream.streamId, stream.roomName ?? stream.streamId]));
  // Imported here: a daemon connected to a real pod never loads the embedded one.
  const { createEmbeddedPod } = await import('../pod/create-embedded-pod.ts');
  const pod = await createEmbeddedPod({
    port: config.port,
    keysDir: config.keysDir,
    users: config.users,
    streams: config.streams,
    ...(config.agent === undefined ? {} : { agent: config.agent }),
    log,
    onMessage: (message) => {
      const { text } = parsePresentationML(message.message, parseEntityJSON(message.data));
      transcript.info({ stream: names.get(message.stream.streamId), from: message.user.displayName, text }, 'message');
    },
  });
  return {
    url: pod.url,
    privateKeyPem: (username) => pod.privateKeyPem(username),
    close: () => pod.close(),
    async startDemo(demoLog) {
      for (let waitedMs = 0; pod.stats().feeds === 0; waitedMs += 50) {
        if (waitedMs >= 10_000) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      for (const step of config.demo) pod.postMessage(step.as, step.stream, step.message);
      const room = config.streams.find((stream) => stream.streamType === 'ROOM');
      const im = config.streams.find((stream) => stream.streamType === 'IM');
      const person = config.users.find((user) => im?.members.includes(user.userId) && user.username !== config.users[0]?.username);
      demoLog.info(
        {
          inAnIm: im && person ? `npm run chorus -- say --pod ${pod.url} --stream ${im.streamId} --as ${person.username} "/help"` : undefined,
          inARoom: room
            ? `npm run chorus -- say --pod ${pod.url} --stream ${room.streamId} --as ${person?.username ?? 'alice'} '<messageML><mention uid="${room.members[0] ?? ''}"/> /help</messageML>'`
            : undefined,
          read: room ? `npm run chorus -- messages --pod ${pod.url} --stream ${room.streamId}` : undefined,
        },
        'talk to the bot from another terminal',
      );
    },
  };
}

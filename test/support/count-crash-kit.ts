/**
 * What the crash tests (test/crash.test.ts) share: an embedded pod in the test process (it outlives every
 * daemon) with 20 rooms and a tally of the `/count` messages posted and of the bot's `count=<n>` replies, the
 * listener folder the daemons load, their config (as against a real pod), and the check of the replies.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEmbeddedPod, type EmbeddedPod } from '../../src/pod/create-embedded-pod.ts';
import { eventually, ROOT, startChorus, waitForLine, type ChorusChild } from './chorus-child.ts';

/** The name of the listener the daemons load: its state key is `state:crash-count:<streamId>`. */
export const LISTENER_NAME = 'crash-count';

const BOT = { userId: '7200000000001', username: 'crash-bot', displayName: 'Crash Bot' } as const;
const PEOPLE = ['alice', 'bob', 'carol'].map((username, i) => ({
  userId: String(7200000000002 + i),
  username,
  displayName: `${username} crash`,
}));

/** The 20 rooms; each has the bot and the three people. */
export const STREAM_IDS = Array.from({ length: 20 }, (_, i) => `crash-room-${String(i).padStart(2, '0')}`);

/** The pod and what happened in it. */
export type CountPod = {
  readonly pod: EmbeddedPod;
  /** The `/count` messages posted, per stream. */
  readonly sent: Map<string, number>;
  /** The values of the bot's `count=<n>` replies, per stream, in the pod's message order. */
  readonly replies: Map<string, number[]>;
  /** Posts one `/count` to a stream picked by `random` ([0, 1)), as one of the people picked by it too. */
  post(random: () => number): void;
  /** The config of a daemon at this pod with the listeners of `listenersDir` and `state` (the config's section). */
  daemonConfig(listenersDir: string, state: object): object;
};

/**
 * Starts the pod on port 0 with keys in `keysDir`. Un-acknowledged events come back after 1 s (30 s on a real
 * pod), so what a killed daemon had read is redelivered quickly; an idle read answers after 200 ms.
 */
export async function startCountPod(keysDir: string): Promise<CountPod> {
  const sent = new Map(STREAM_IDS.map((id) => [id, 0]));
  const replies = new Map<string, number[]>(STREAM_IDS.map((id) => [id, []]));
  const pod = await createEmbeddedPod({
    port: 0,
    keysDir,
    users: [BOT, ...PEOPLE],
    streams: STREAM_IDS.map((streamId) => ({
      streamId,
      streamType: 'ROOM' as const,
      roomName: streamId,
      members: [BOT.userId, ...PEOPLE.map((person) => person.userId)],
    })),
    datafeed: { visibilityTimeoutMs: 1_000, pollTimeoutMs: 200 },
    onMessage: (message) => {
      if (message.user.userId !== Number(BOT.userId)) return;
      const value = /count=(\d+)/.exec(message.message)?.[1];
      if (value === undefined) throw new Error(`unexpected bot message ${message.message}`);
      replies.get(message.stream.streamId)?.push(Number(value));
    },
  });
  return {
    pod,
    sent,
    replies,
    post: (random) => {
      const streamId = STREAM_IDS[Math.floor(random() * STREAM_IDS.length)] ?? '';
      const person = PEOPLE[Math.floor(random() * PEOPLE.length)] ?? BOT;
      pod.postMessage(person.username, streamId, '/count');
      sent.set(streamId, (sent.get(streamId) ?? 0) + 1);
    },
    daemonConfig: (listenersDir, state) => ({
      bot: { username: BOT.username, privateKey: { path: join(keysDir, `${BOT.username}.pem`) } },
      pod: { url: pod.url },
      agent: { url: pod.url },
      keyManager: { url: pod.url },
      datafeed: { retry: { initialIntervalMs: 10, multiplier: 2, maxIntervalMs: 200 } },
      reply: { maxAttempts: 50 },
      http: { host: '127.0.0.1', port: 0 },
      listeners: listenersDir,
      log: { level: 'info' },
      state,
    }),
  };
}

/**
 * Writes the `/count` listener of listeners/trading.ts (without the mention it requires in a room) into a new
 * folder under var/ (git-ignored, inside the repository so `import … from 'chorus'` resolves). The caller
 * removes the folder.
 */
export function writeCountListener(): string {
  mkdirSync(join(ROOT, 'var'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'var', 'crash-test-listeners-'));
  writeFileSync(
    join(dir, 'count.ts'),
    `import { defineListener } from 'chorus';

export default defineListener({
  name: '${LISTENER_NAME}',
  setup(bot) {
    bot.command('/count', { description: 'Count in this conversation', requireMention: false }, async (ctx) => {
      const n = await ctx.state.update((n: number | undefined) => (n ?? 0) + 1);
      await ctx.reply(\`count=\${n}\`);
    });
  },
});
`,
  );
  return dir;
}

/** Starts `chorus run --config <configPath>` without waiting. */
export function startDaemon(configPath: string): ChorusChild {
  return startChorus(['run', '--config', configPath]);
}

/** Waits until the daemon logged 'bot running' (authenticated, state open, pipeline subscribed). */
export async function running(daemon: ChorusChild): Promise<void> {
  await waitForLine(daemon, "'bot running'", (json) => json['msg'] === 'bot running', { timeoutMs: 30_000 });
}

/** Kills the daemon with SIGKILL and waits for it to be gone. Resolves with how it ended. */
export async function killHard(daemon: ChorusChild): Promise<NodeJS.Signals | null> {
  daemon.signal('SIGKILL');
  return (await daemon.exited).signal;
}

/** Streams whose last reply is not yet the number of `/count` messages sent to them, e.g. `crash-room-03 7/9`. */
export function unfinished({ sent, replies }: CountPod): string[] {
  return STREAM_IDS.flatMap((id) => {
    const last = replies.get(id)?.at(-1) ?? 0;
    return last === sent.get(id) ? [] : [`${id} ${last}/${sent.get(id) ?? 0}`];
  });
}

/**
 * Waits (up to `timeoutMs`) until every stream's last reply equals its number of `/count` messages. Throws at
 * once when a stream's replies went backwards (a counter lost: waiting would only time out).
 */
export async function allReplied(countPod: CountPod, timeoutMs: number, context: () => string): Promise<void> {
  await eventually(
    'every stream replied up to its count',
    () => {
      const backwards = findings(countPod).filter((f) => f.backwards > 0);
      if (backwards.length > 0) {
        const streams = backwards.map((f) => `${f.streamId} ${JSON.stringify(countPod.replies.get(f.streamId))}`);
        throw new Error(`replies went backwards:\n${streams.join('\n')}`);
      }
      return unfinished(countPod).length === 0 ? true : undefined;
    },
    { timeoutMs, context: () => `${unfinished(countPod).join(', ')}\n${context()}` },
  );
}

/** What the replies of one stream show. */
export type StreamFindings = {
  readonly streamId: string;
  readonly sent: number;
  /** The highest reply value. */
  readonly max: number;
  /** Values 1..sent that no reply carried: lost events. */
  readonly missing: number[];
  /** Replies whose value is lower than the reply before them. */
  readonly backwards: number;
  /** Replies beyond one per value: at-least-once replies after a crash. */
  readonly duplicates: number;
};

/** Reads each stream's replies against what was sent to it. */
export function findings({ sent, replies }: CountPod): StreamFindings[] {
  return STREAM_IDS.map((streamId) => {
    const values = replies.get(streamId) ?? [];
    const count = sent.get(streamId) ?? 0;
    const seen = new Set(values);
    return {
      streamId,
      sent: count,
      max: Math.max(0, ...values),
      missing: Array.from({ length: count }, (_, i) => i + 1).filter((n) => !seen.has(n)),
      backwards: values.filter((value, i) => i > 0 && value < (values[i - 1] ?? 0)).length,
      duplicates: values.length - seen.size,
    };
  });
}

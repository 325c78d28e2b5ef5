/**
 * `chorus record` against the embedded pod: the recorded file replays through the listeners.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/config-schema.ts';
import { recordCommand } from '../src/daemon/record-command.ts';
import { createLogger } from '../src/logger.ts';
import { createEmbeddedPod, type EmbeddedPod } from '../src/pod/create-embedded-pod.ts';
import { runReplay } from '../src/testing/replay.ts';
import trading from '../listeners/trading.ts';
import { useTempDirs } from './support/temp-dirs.ts';

const tempDir = useTempDirs('chorus-record-');

const bot = { userId: '7000000000001', username: 'chorus-bot', displayName: 'Chorus Bot' };
const alice = { userId: '7000000000101', username: 'alice', displayName: 'Alice Ng' };
let pod: EmbeddedPod | undefined;

afterEach(async () => {
  await pod?.close();
  pod = undefined;
});

describe('chorus record', () => {
  it('writes read responses of its own datafeed that chorus replay turns into the same replies', async () => {
    const dir = tempDir();
    pod = await createEmbeddedPod({
      users: [bot, alice],
      streams: [{ streamId: 'im-alice', streamType: 'IM', members: [bot.userId, alice.userId] }],
      keysDir: join(dir, 'keys'),
      datafeed: { pollTimeoutMs: 200 },
    });
    const running = pod;
    const config = configSchema.parse({
      bot: { username: bot.username, privateKey: { path: join(dir, 'keys', 'chorus-bot.pem') } },
      pod: { url: running.url },
      agent: { url: running.url },
      keyManager: { url: running.url },
    });
    const out = join(dir, 'feed.jsonl');
    const recording = recordCommand({ config, out, limit: 3, log: createLogger({ level: 'silent' }) });
    while (running.stats().feeds === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const text of ['/count', '/count', '/help']) running.postMessage('alice', 'im-alice', text);

    expect(await recording).toBe(3);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { events: unknown[]; ackId: string });
    expect(lines.flatMap((line) => line.events)).toHaveLength(3);
    expect(lines.every((line) => typeof line.ackId === 'string' && line.ackId !== '')).toBe(true);

    const { replies } = await runReplay(out, { listeners: [trading], botUserId: bot.userId });
    expect(replies.map((reply) => reply.text.split('\n')[0])).toEqual(['count=1', 'count=2', 'Commands:']);
  });
});

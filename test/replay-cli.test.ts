/**
 * `chorus replay` as a user runs it: a child process on the Node of node_modules/.bin, the demo feed, the
 * example listeners of listeners/.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../src/events/wire-schema.ts';
import { demoFeedText, makeDemoFeed } from './fixtures/make-demo-feed.ts';
import { useTempDirs } from './support/temp-dirs.ts';

const cliDir = useTempDirs('chorus-cli-');
const listenersDir = useTempDirs('chorus-listeners-');

const root = new URL('..', import.meta.url).pathname;
const feed = join(root, 'test/fixtures/demo-feed.jsonl');

function chorus(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['src/daemon/cli.ts', ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

type Line = { streamId: string; message: string; inReplyTo: { eventId: string; type: string } };

describe('the demo feed', () => {
  it('is what test/fixtures/make-demo-feed.ts makes (run it after changing the generator)', () => {
    expect(readFileSync(feed, 'utf8')).toBe(demoFeedText());
  });

  it('holds every one of the 17 event types', () => {
    const types = new Set(makeDemoFeed().flatMap((response) => response.events.map((event) => event.type)));
    expect([...EVENT_TYPES].filter((type) => !types.has(type))).toEqual([]);
  });
});

describe('chorus replay', () => {
  it('prints the example listeners\' replies as JSON lines and exits 0', async () => {
    const { code, stdout, stderr } = await chorus(['replay', 'test/fixtures/demo-feed.jsonl', '--log-level', 'warn']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Line);
    const roomId = lines.find((line) => line.inReplyTo.type === 'ROOMCREATED')?.streamId;
    expect(roomId).toBeDefined();
    const inRoom = lines.filter((line) => line.streamId === roomId).map((line) => line.message);
    expect(inRoom).toEqual([
      '<messageML>Room event roomcreated by Alice Ng</messageML>',
      '<messageML>Welcome Bob Stone</messageML>',
      '<messageML>Buying 100 AAPL for Alice Ng</messageML>',
      '<messageML>count=1</messageML>',
      '<messageML>count=2</messageML>',
      '<messageML>Hi Alice Ng, try /help</messageML>',
      expect.stringMatching(/^<messageML><mention uid="\d+"\/> is <b>Bob Stone<\/b><\/messageML>$/),
      '<messageML>Topic set to <i>&#35;rates</i></messageML>',
      '<messageML>Paging the desk for Bob Stone</messageML>',
      expect.stringContaining('Form order-form sent by Alice Ng'),
      '<messageML>Welcome Eve &lt;script&gt;alert(1)&lt;/script&gt;</messageML>',
      '<messageML>Room event roomdeactivated by Alice Ng</messageML>',
      '<messageML>Room event roomreactivated by Alice Ng</messageML>',
    ]);
    const inIm = lines.filter((line) => line.streamId !== roomId).map((line) => line.message);
    expect(inIm).toHaveLength(3);
    expect(inIm[0]).toMatch(/^<messageML><p>Commands:<\/p><ul><li>\/echo .*\/help - List the commands/);
    expect(inIm.slice(1)).toEqual(['<messageML>count=1</messageML>', '<messageML>hello &lt;world&gt; &amp; co</messageML>']);
    // the malformed event is logged at error with the path of the missing field; stdout holds replies only
    expect(stderr).toContain('payload.messageSent.message.stream');
    expect(stderr).toContain('malformed event dead-lettered');
  });

  it('prints usage and exits 2 on a bad call', async () => {
    for (const args of [[], ['replay'], ['replay', 'a', 'b'], ['frobnicate'], ['replay', 'x', '--nope'], ['replay', 'x', '--bot-user-id', 'abc']]) {
      const { code, stderr, stdout } = await chorus(args);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(stderr).toContain('usage: chorus <command>');
      expect(stdout).toBe('');
    }
  });

  it('fails with a clear message and exit 1 on a missing or broken feed file', async () => {
    const missing = await chorus(['replay', 'test/fixtures/no-such-feed.jsonl']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^chorus: .*no-such-feed\.jsonl/m);
    const dir = cliDir();
    const broken = join(dir, 'broken.jsonl');
    writeFileSync(broken, '{"type": "MESSAGESENT", "payload": {}}\nnot json at all\n');
    const bad = await chorus(['replay', broken, '--log-level', 'silent']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`chorus: ${broken}:2: not JSON`);
  });

  it('fails at start-up naming the listener file whose default export is not a listener', async () => {
    const dir = listenersDir();
    writeFileSync(join(dir, 'broken.ts'), 'export default { name: "broken" };\n');
    const { code, stderr } = await chorus(['replay', feed, '--listeners', dir]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/broken\.ts: the default export is not a listener: listener broken: setup must be a function/);
  });

  it('takes the bot identity from flags: another bot id turns the mentions into mentions of someone else', async () => {
    const { code, stdout } = await chorus(['replay', feed, '--bot-user-id', '1', '--log-level', 'silent']);
    expect(code).toBe(0);
    expect(stdout).not.toContain('Buying 100 AAPL');
    expect(stdout).toContain('count=1'); // IM commands need no mention
  });
});

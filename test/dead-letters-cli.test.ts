/**
 * `chorus dead-letters` on a SQLite backend, as a child process.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSqliteInbox } from '../src/state/sqlite-inbox.ts';
import { useTempDirs } from './support/temp-dirs.ts';

const tempDir = useTempDirs('chorus-dead-');

const root = new URL('..', import.meta.url).pathname;

function chorus(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['src/daemon/cli.ts', ...args], { cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

describe('chorus dead-letters', () => {
  it('lists, retries and drops the dead letters of the configured backend', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.db');
    const config = join(dir, 'chorus.yaml');
    writeFileSync(config, `bot: {}\nlog: { level: warn }\nstate: { backend: sqlite, path: ${JSON.stringify(path)} }\n`);
    const inbox = createSqliteInbox({ path });
    await inbox.append([{ conversationId: 'room', dedupeKey: 'message:m1', wire: '{"id":"e1"}' }]);
    const entry = await inbox.next('room');
    if (entry === undefined) throw new Error('no entry');
    await inbox.fail(entry, { code: 'CHORUS_ERR_LISTENER_FAILED', message: 'listener x failed' }, 1);
    await inbox.deadLetter('{"broken"', { code: 'CHORUS_ERR_EVENT_INVALID', message: 'not JSON' });

    const list = await chorus(['dead-letters', '--config', config]);
    expect(list.code).toBe(0);
    const letters = list.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; code: string; wire: string });
    expect(letters.map((letter) => [letter.code, letter.wire])).toEqual([
      ['CHORUS_ERR_LISTENER_FAILED', '{"id":"e1"}'],
      ['CHORUS_ERR_EVENT_INVALID', '{"broken"'],
    ]);
    const [failed, malformed] = letters;

    expect((await chorus(['dead-letters', 'retry', failed?.id ?? '', '--config', config])).code).toBe(0);
    expect((await inbox.next('room'))?.dedupeKey).toBe('message:m1');
    const notRetryable = await chorus(['dead-letters', 'retry', malformed?.id ?? '', '--config', config]);
    expect(notRetryable.code).toBe(1);
    expect(notRetryable.stderr).toContain('cannot be retried');
    expect((await chorus(['dead-letters', 'drop', malformed?.id ?? '', '--config', config])).code).toBe(0);
    expect((await chorus(['dead-letters', 'drop', malformed?.id ?? '', '--config', config])).code).toBe(1);
    expect((await chorus(['dead-letters', 'list', '--config', config])).stdout).toBe('');
    expect((await chorus(['dead-letters', 'frob', '--config', config])).code).toBe(2);
    expect((await chorus(['dead-letters', 'retry', '--config', config])).code).toBe(2);
    await inbox.close();
  });
});

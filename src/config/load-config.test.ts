import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './load-config.ts';

function write(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'chorus-config-')), 'config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('loads the shipped default', () => {
    const config = loadConfig(new URL('../../config/default.yaml', import.meta.url).pathname);
    expect(config.bot).toEqual({ userId: '7000000000001', displayName: 'Chorus Bot' });
    expect(config.listeners).toBe('listeners');
  });

  it('names the field and the reason of a bad value', () => {
    const path = write('bot:\n  userId: 12ab\n  displayName: X\n');
    expect(() => loadConfig(path)).toThrow(`${path}: bot.userId: must be a string of digits`);
  });

  it('names an unknown field', () => {
    const path = write('bot:\n  userId: "1"\n  displayName: X\nlistener: x\n');
    expect(() => loadConfig(path)).toThrow(/Unrecognized key.*listener/);
  });

  it('names the file when it is not YAML or missing', () => {
    expect(() => loadConfig(write('bot: [\n'))).toThrow(/config\.yaml: /);
    expect(() => loadConfig('/nonexistent/chorus.yaml')).toThrow(/\/nonexistent\/chorus\.yaml: /);
  });
});

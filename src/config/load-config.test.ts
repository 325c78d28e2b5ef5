import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../../test/support/temp-dirs.ts';
import { loadConfig } from './load-config.ts';

const tempDir = useTempDirs('chorus-config-');

function write(text: string): string {
  const path = join(tempDir(), 'config.yaml');
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('loads the shipped default', () => {
    const config = loadConfig(new URL('../../config/default.yaml', import.meta.url).pathname);
    expect(config.bot).toEqual({ username: 'chorus-bot', userId: '7000000000001', displayName: 'Chorus Bot' });
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

describe('loadConfig environment overrides', () => {
  it('takes secrets and hosts from CHORUS_ variables, over the file', () => {
    const path = write('bot:\n  username: file-bot\npod:\n  url: https://file.example\n');
    const config = loadConfig(path, {
      CHORUS_BOT_USERNAME: 'env-bot',
      CHORUS_BOT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----',
      CHORUS_AGENT_URL: 'https://agent.example',
      HOME: '/root',
    });
    expect(config.bot.username).toBe('env-bot');
    expect(config.bot.privateKey).toEqual({ content: '-----BEGIN PRIVATE KEY-----' });
    expect(config.pod?.url).toBe('https://file.example');
    expect(config.agent?.url).toBe('https://agent.example');
  });

  it('names the field of a bad override', () => {
    const path = write('bot: {}\n');
    expect(() => loadConfig(path, { CHORUS_POD_URL: 'ftp://x' })).toThrow(`${path}: pod.url: must be an http(s) URL`);
  });
});

describe('datafeed.includeInvisible', () => {
  it('defaults to false, and takes true from the file or CHORUS_DATAFEED_INCLUDE_INVISIBLE', () => {
    expect(loadConfig(write('bot: {}\n')).datafeed.includeInvisible).toBe(false);
    expect(loadConfig(write('bot: {}\ndatafeed:\n  tag: t\n')).datafeed).toMatchObject({ tag: 't', includeInvisible: false });
    expect(loadConfig(write('bot: {}\ndatafeed:\n  includeInvisible: true\n')).datafeed.includeInvisible).toBe(true);
    const path = write('bot: {}\ndatafeed:\n  includeInvisible: true\n');
    expect(loadConfig(path, { CHORUS_DATAFEED_INCLUDE_INVISIBLE: 'false' }).datafeed.includeInvisible).toBe(false);
    expect(loadConfig(write('bot: {}\n'), { CHORUS_DATAFEED_INCLUDE_INVISIBLE: 'true' }).datafeed.includeInvisible).toBe(true);
  });

  it('names the field of a value that is not a boolean, in the file or the environment', () => {
    const quoted = write('bot: {}\ndatafeed:\n  includeInvisible: "yes"\n');
    expect(() => loadConfig(quoted)).toThrow(`${quoted}: datafeed.includeInvisible: must be true or false`);
    const number = write('bot: {}\ndatafeed:\n  includeInvisible: 1\n');
    expect(() => loadConfig(number)).toThrow(`${number}: datafeed.includeInvisible: must be true or false`);
    const env = write('bot: {}\n');
    expect(() => loadConfig(env, { CHORUS_DATAFEED_INCLUDE_INVISIBLE: 'TRUE' })).toThrow(`${env}: datafeed.includeInvisible: must be true or false`);
  });
});

describe('the shipped configuration files', () => {
  it('validate: the embedded default and the real-pod example', () => {
    const example = loadConfig(new URL('../../config/symphony.example.yaml', import.meta.url).pathname);
    expect(example.pod?.url).toBe('https://mycompany.symphony.com');
    expect(example.embeddedPod).toBeUndefined();
    const embedded = loadConfig(new URL('../../config/default.yaml', import.meta.url).pathname);
    expect(embedded.embeddedPod?.users.map((user) => user.username)).toContain(embedded.bot.username);
  });
});

describe('embeddedPod cross-checks', () => {
  it('names a stream member that is not a user, and a demo step of an unknown stream', () => {
    const base = 'bot: {}\nembeddedPod:\n  users: [{ userId: "1", username: a, displayName: A }]\n';
    const members = write(`${base}  streams: [{ streamId: s, streamType: ROOM, members: ["1", "9"] }]\n`);
    expect(() => loadConfig(members)).toThrow(`${members}: embeddedPod.streams.0.members.1: unknown user id 9`);
    const demo = write(`${base}  demo: [{ as: a, stream: nope, message: hi }]\n`);
    expect(() => loadConfig(demo)).toThrow(`${demo}: embeddedPod.demo.0.stream: unknown stream nope`);
  });

  it("applies the embedded pod's own rules at start-up, not when the pod starts", () => {
    const users = '  users: [{ userId: "1", username: a, displayName: A }, { userId: "1", username: b, displayName: B }]\n';
    const duplicate = write(`bot: {}\nembeddedPod:\n${users}`);
    expect(() => loadConfig(duplicate)).toThrow(`${duplicate}: embeddedPod.users.1.userId: duplicate`);
    const username = write('bot: {}\nembeddedPod:\n  users: [{ userId: "1", username: "-a", displayName: A }]\n');
    expect(() => loadConfig(username)).toThrow(`${username}: embeddedPod.users.0.username: must be letters, digits`);
    const agent = write('bot: {}\nembeddedPod:\n  users: [{ userId: "1", username: a, displayName: A }]\n  agent: {}\n');
    expect(loadConfig(agent).embeddedPod?.agent).toEqual({ version: 'Agent-25.12.0-chorus-embedded', simplifiedKeyDelivery: false });
  });
});

/**
 * `chorus run`, `pod`, `say` and `messages` as a user runs them: each a child process (`node bin/chorus.js`)
 * with a config in a temporary folder (ports 0, keys in the temporary folder). The daemon's logs are its
 * stdout, JSON lines when not on a terminal: the tests learn the URLs and the conversation from them.
 *
 * Tests that need to look inside the pod (acknowledgements, the exact session tokens) run the daemon as against
 * a real pod, pointed at an embedded pod in this process (through a recording proxy for the tokens).
 */
import { randomUUID } from 'node:crypto';
import { createSqliteInbox } from '../src/state/sqlite-inbox.ts';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createEmbeddedPod, type EmbeddedPod, type FaultOptions } from '../src/pod/create-embedded-pod.ts';
import {
  eventually,
  killStarted,
  ROOT,
  runChorus,
  startChorus,
  waitForLine,
  type ChorusChild,
  type OutputLine,
} from './support/chorus-child.ts';
import { startRecordingProxy } from './support/recording-proxy.ts';

type PodUser = { userId: string; username: string; displayName: string };
type ConfigDocument = Record<string, unknown> & {
  http: Record<string, unknown>;
  listeners: string;
  embeddedPod: Record<string, unknown> & { port: number; keysDir: string; users: PodUser[]; streams: { members: string[] }[] };
};

const DEFAULT_CONFIG = parse(readFileSync(join(ROOT, 'config/default.yaml'), 'utf8')) as ConfigDocument;
const USERS = DEFAULT_CONFIG.embeddedPod.users;
const userId = (username: string): string => USERS.find((user) => user.username === username)?.userId ?? '';

let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'chorus-daemon-test-'));
});

afterEach(async () => {
  await killStarted();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function writeConfig(document: object, name = 'chorus.yaml'): string {
  const path = join(tmp, name);
  writeFileSync(path, stringify(document));
  return path;
}

/** config/default.yaml with ports 0, the keys in the temporary folder and the repository's listeners. */
function embeddedConfig(): ConfigDocument {
  const document = structuredClone(DEFAULT_CONFIG);
  document.embeddedPod.port = 0;
  document.embeddedPod.keysDir = join(tmp, 'keys');
  document.http = { host: '127.0.0.1', port: 0 };
  document.listeners = join(ROOT, 'listeners');
  document.state = { path: join(tmp, `state-${randomUUID()}.db`) };
  return document;
}

/** A config for a real pod at `url` (the embedded pod of this process, or a proxy in front of it). */
function realPodConfig(url: string, keysDir: string, listeners: string, statePath = join(tmp, `state-${randomUUID()}.db`)): object {
  return {
    bot: { username: 'chorus-bot', privateKey: { path: join(keysDir, 'chorus-bot.pem') } },
    pod: { url },
    agent: { url },
    keyManager: { url },
    datafeed: { retry: { initialIntervalMs: 10, multiplier: 2, maxIntervalMs: 100 } },
    reply: { maxAttempts: 20 },
    http: { host: '127.0.0.1', port: 0 },
    state: { path: statePath },
    listeners,
  };
}

/** An embedded pod in this process with the default users and one IM, bot and Alice. */
async function startTestPod(): Promise<{ pod: EmbeddedPod; keysDir: string }> {
  const keysDir = join(tmp, 'pod-keys');
  const pod = await createEmbeddedPod({
    keysDir,
    users: USERS,
    streams: [{ streamId: 'im-alice', streamType: 'IM', members: [userId('chorus-bot'), userId('alice')] }],
  });
  cleanups.push(() => pod.close());
  return { pod, keysDir };
}

/** Waits until the bot has a datafeed read waiting: messages posted from now on reach it. */
function botIsReading(pod: EmbeddedPod): Promise<true> {
  return eventually('the bot reading its datafeed', () => (pod.stats().waitingReads > 0 ? true : undefined));
}

/** The texts of a stream's messages in the pod (PresentationML without tags). */
function textsOf(pod: EmbeddedPod, streamId: string): string[] {
  return pod.messages(streamId).map((message) => message.message.replace(/<[^>]*>/g, ''));
}

/**
 * A listener folder inside the repository (so `import … from 'chorus'` resolves; var/ is git-ignored) with
 * `/slow`: it logs 'slow command started', then replies 'slow done' once `release` exists.
 */
function slowListeners(): { dir: string; release: string } {
  mkdirSync(join(ROOT, 'var'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'var', 'daemon-test-listeners-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'slow.ts'),
    `import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineListener } from 'chorus';

// The test creates "release" beside this module when the handler may finish (a 20 s cap for safety).
const release = new URL('./release', import.meta.url);

export default defineListener({
  name: 'slow',
  setup(bot) {
    bot.command('/slow', { description: 'Reply when released' }, async (ctx) => {
      ctx.log.info('slow command started');
      for (let waitedMs = 0; !existsSync(release) && waitedMs < 20_000; waitedMs += 20) await sleep(20);
      await ctx.reply('slow done');
    });
  },
});
`,
  );
  return { dir, release: join(dir, 'release') };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const withMessage = (msg: string) => (json: Record<string, unknown>) => json['msg'] === msg;

/** Starts `chorus run` and waits for 'bot running': the HTTP URL, and the pod URL when it runs one. */
async function startDaemon(args: readonly string[]): Promise<{ daemon: ChorusChild; httpUrl: string; podUrl: string | undefined }> {
  const daemon = startChorus(['run', ...args]);
  const running = await waitForLine(daemon, "'bot running'", withMessage('bot running'));
  const pod = daemon.stdoutLines().find((line) => line.json?.['msg'] === 'pod listening')?.json;
  return { daemon, httpUrl: text(running['http']), podUrl: pod === undefined ? undefined : text(pod['url']) };
}

type TranscriptLine = { stream: string; from: string; text: string };

/** The embedded pod's transcript in the daemon's logs: every message posted, with its stream and author. */
function transcript(daemon: ChorusChild): TranscriptLine[] {
  return daemon
    .stdoutLines()
    .flatMap(({ json }) =>
      json?.['component'] === 'transcript' && json['msg'] === 'message'
        ? [{ stream: text(json['stream']), from: text(json['from']), text: text(json['text']) }]
        : [],
    );
}

function botReplies(daemon: ChorusChild, stream: string): string[] {
  return transcript(daemon)
    .filter((line) => line.from === 'Chorus Bot' && line.stream === stream)
    .map((line) => line.text);
}

/** Waits until the four demo messages of config/default.yaml have their replies in the transcript. */
function demoReplies(daemon: ChorusChild): Promise<true> {
  return eventually(
    'the replies to the demo messages',
    () => (botReplies(daemon, 'Demo room').length >= 3 && botReplies(daemon, 'demo-im-alice').length >= 1 ? true : undefined),
    { context: () => daemon.stdout() },
  );
}

/** The command patterns of a /help listing in transcript form ("Commands:\n/buy … - Buy shares (…)\n…"). */
function helpCommands(listing: string): string[] {
  const [title, ...lines] = listing.split('\n');
  expect(title).toBe('Commands:');
  return lines.map((line) => line.split(' - ')[0] ?? '');
}

/** The value of a Prometheus sample `series` (name with labels), or undefined when absent. */
function sampleOf(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('chorus run with the embedded pod', () => {
  it('shows the demo conversation, and answers /help said from another terminal', async () => {
    const config = writeConfig(embeddedConfig());
    const { daemon, podUrl } = await startDaemon(['--config', config]);
    expect(podUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await demoReplies(daemon);

    const [help, ...roomRest] = botReplies(daemon, 'Demo room');
    expect(helpCommands(help ?? '')).toEqual(expect.arrayContaining(['/buy {quantity} {$ticker}', '/count', '/help']));
    expect(help).toContain('/buy {quantity} {$ticker} - Buy shares (mention required)');
    expect(roomRest).toEqual(['Buying 100 AAPL for Alice Ng', 'count=1']);
    expect(botReplies(daemon, 'demo-im-alice')).toEqual(['count=1']);

    // Another terminal: Alice says /help in her IM with the bot (her key passed explicitly) ...
    const said = await runChorus([
      'say', '--pod', podUrl ?? '', '--stream', 'demo-im-alice', '--as', 'alice', '--key', join(tmp, 'keys', 'alice.pem'), '/help',
    ]);
    expect(said.code, said.stderr).toBe(0);
    const sent = JSON.parse(said.stdout) as { messageId: string };
    await eventually('the reply to /help in the IM', () => (botReplies(daemon, 'demo-im-alice').length >= 2 ? true : undefined));

    // ... and reads the IM back (as the bot, whose key --config's keysDir holds).
    const read = await runChorus(['messages', '--config', config, '--pod', podUrl ?? '', '--stream', 'demo-im-alice']);
    expect(read.code, read.stderr).toBe(0);
    const messages = read.stdoutLines.map((line) => line.json as { messageId: string; message: string; user: { username: string } });
    const at = messages.findIndex((message) => message.messageId === sent.messageId);
    expect(messages[at]?.user.username).toBe('alice');
    const reply = messages[at + 1];
    expect(reply?.user.username).toBe('chorus-bot');
    expect(reply?.message).toContain('<p>Commands:</p>');
    expect(reply?.message).toContain('<li>/buy {quantity} {$ticker} - Buy shares (mention not required)</li>');
    expect(reply?.message).toContain('<li>/help - List the commands (mention not required)</li>');
  });

  it('serves /healthz (200, JSON) while reading and /metrics in the Prometheus text format', async () => {
    const { daemon, httpUrl } = await startDaemon(['--config', writeConfig(embeddedConfig())]);
    await demoReplies(daemon);

    const health = await eventually('a healthy /healthz', async () => {
      const response = await fetch(`${httpUrl}/healthz`);
      const body = await response.text();
      return response.status === 200 ? { type: response.headers.get('content-type'), body: JSON.parse(body) as unknown } : undefined;
    });
    expect(health).toEqual({
      type: 'application/json',
      body: { ok: true, reason: 'the datafeed was read recently', lastReadAgoMs: expect.any(Number) as unknown },
    });

    // The outcome of the last demo event is counted just after its reply is posted: poll until all four are.
    const metrics = await eventually('the four demo events counted', async () => {
      const response = await fetch(`${httpUrl}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const body = await response.text();
      return (sampleOf(body, 'chorus_events_total{status="handled"}') ?? 0) >= 4 ? body : undefined;
    });
    for (const [name, type] of [
      ['chorus_events_read_total', 'counter'],
      ['chorus_events_total', 'counter'],
      ['chorus_replies_sent_total', 'counter'],
      ['chorus_handler_duration_seconds', 'histogram'],
      ['chorus_datafeed_errors_total', 'counter'],
    ] as const) {
      expect(metrics).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
      expect(metrics).toContain(`\n# TYPE ${name} ${type}\n`);
    }
    expect(sampleOf(metrics, 'chorus_events_total{status="handled"}')).toBe(4);
    // The bot's own four replies come back through the feed too.
    expect(sampleOf(metrics, 'chorus_events_read_total')).toBeGreaterThanOrEqual(4);
    expect(sampleOf(metrics, 'chorus_replies_sent_total')).toBe(4);
    expect(sampleOf(metrics, 'chorus_handler_duration_seconds_count')).toBe(4);
    expect(sampleOf(metrics, 'chorus_handler_duration_seconds_bucket{le="+Inf"}')).toBe(4);
    expect((await fetch(`${httpUrl}/nothing-here`)).status).toBe(404);
  });
});

describe('stopping chorus run', () => {
  it('on SIGTERM reads no more, lets the event in flight finish and acknowledges it, logs stopped and exits 0', async () => {
    const { pod, keysDir } = await startTestPod();
    const { dir, release } = slowListeners();
    const { daemon } = await startDaemon(['--config', writeConfig(realPodConfig(pod.url, keysDir, dir))]);
    await botIsReading(pod);

    pod.postMessage('alice', 'im-alice', '/slow');
    await waitForLine(daemon, 'the handler to start', withMessage('slow command started'));
    daemon.signal('SIGTERM');
    await waitForLine(daemon, 'the orderly stop to begin', withMessage('stopping: no new reads, finishing events in flight'));
    pod.postMessage('alice', 'im-alice', '/slow'); // after the stop began: never handled
    writeFileSync(release, '');

    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(textsOf(pod, 'im-alice')).toEqual(['/slow', '/slow', 'slow done']);
    expect(pod.stats().acked).toBe(1); // the /slow handled; the second one is for the next run
    const messages = daemon.stdoutLines().map((line) => line.json?.['msg']);
    expect(messages.filter((msg) => msg === 'slow command started')).toHaveLength(1);
    expect(messages).toContain('datafeed stopped, last batch acknowledged');
    expect(messages.at(-1)).toBe('stopped');
  });

  it('exits at once with 143 on a second SIGTERM, leaving the event in flight unfinished', async () => {
    const { pod, keysDir } = await startTestPod();
    const { dir } = slowListeners();
    const statePath = join(tmp, 'state-second-signal.db');
    const { daemon } = await startDaemon(['--config', writeConfig(realPodConfig(pod.url, keysDir, dir, statePath))]);
    await botIsReading(pod);

    pod.postMessage('alice', 'im-alice', '/slow');
    await waitForLine(daemon, 'the handler to start', withMessage('slow command started'));
    daemon.signal('SIGTERM');
    await waitForLine(daemon, 'the first signal to be taken', withMessage('stop signal received'));
    daemon.signal('SIGTERM');

    // The handler cannot have finished: it waits for a release that never comes.
    expect(await daemon.exited).toEqual({ code: 143, signal: null });
    expect(textsOf(pod, 'im-alice')).toEqual(['/slow']);
    // Acknowledged to the pod once in the durable inbox; unfinished, it stays there for the next start.
    expect(pod.stats().acked).toBe(1);
    const inbox = createSqliteInbox({ path: statePath });
    expect(JSON.parse((await inbox.next('im-alice'))?.wire ?? '{}')).toMatchObject({ type: 'MESSAGESENT' });
    await inbox.close();
    expect(daemon.stdoutLines().map((line) => line.json?.['msg'])).not.toContain('stopped');
  });
});

describe('secrets in the logs', () => {
  const SECRET_FIELDS = new Set(['sessionToken', 'keyManagerToken', 'token', 'privateKey', 'authorization']);
  const JWT = /eyJ[\w-]*\.[\w-]+\.[\w-]+/;

  /** `path=value` of every secret-named field, at any depth, whose value is not '[redacted]'. */
  function unredacted(value: unknown, path = ''): string[] {
    if (typeof value !== 'object' || value === null) return [];
    return Object.entries(value).flatMap(([key, child]) => [
      ...(SECRET_FIELDS.has(key) && child !== '[redacted]' ? [`${path}${key}=${JSON.stringify(child)}`] : []),
      ...unredacted(child, `${path}${key}.`),
    ]);
  }

  /** The base64 lines of every private key file of `keysDir` (at least one key). */
  function privateKeyLines(keysDir: string): string[] {
    const files = readdirSync(keysDir).filter((file) => file.endsWith('.pem'));
    expect(files.length).toBeGreaterThan(0);
    return files.flatMap((file) =>
      readFileSync(join(keysDir, file), 'utf8')
        .split('\n')
        .filter((line) => line.length > 20 && !line.startsWith('-----')),
    );
  }

  function expectNoSecrets(outputs: readonly string[], lines: readonly OutputLine[], keyLines: readonly string[]): void {
    const all = outputs.join('\n');
    expect(all).not.toContain('-----BEGIN');
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toMatch(JWT);
    expect(keyLines.filter((line) => all.includes(line))).toEqual([]);
    expect(lines.flatMap((line) => unredacted(line.json))).toEqual([]);
  }

  it('at trace level, no key, token or JWT reaches the output of run, say or messages', async () => {
    const config = writeConfig(embeddedConfig());
    const { daemon, podUrl } = await startDaemon(['--config', config, '--log-level', 'trace']);
    await demoReplies(daemon);
    const pod = ['--config', config, '--log-level', 'trace', '--pod', podUrl ?? '', '--stream', 'demo-im-alice'];
    const said = await runChorus(['say', ...pod, '--as', 'alice', '/count']);
    expect(said.code, said.stderr).toBe(0);
    await eventually('the reply to /count', () => (botReplies(daemon, 'demo-im-alice').includes('count=2') ? true : undefined));
    const read = startChorus(['messages', ...pod]);
    expect((await read.exited).code).toBe(0);
    daemon.signal('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    const levels = new Set(daemon.stdoutLines().map((line) => line.json?.['level']));
    expect(levels).toContain(20); // debug lines are there: the level took effect
    const children = [daemon, read];
    expectNoSecrets(
      [...children.flatMap((child) => [child.stdout(), child.stderr()]), said.stdout, said.stderr],
      [...children.flatMap((child) => [...child.stdoutLines(), ...child.stderrLines()]), ...said.stdoutLines],
      privateKeyLines(join(tmp, 'keys')),
    );
  });

  it('the exact session tokens and JWTs never reach the output, through re-authentications and failed calls', async () => {
    const { pod, keysDir } = await startTestPod();
    const proxy = await startRecordingProxy(pod.url);
    cleanups.push(() => proxy.close());
    const config = realPodConfig(proxy.url, keysDir, join(ROOT, 'listeners'));
    const { daemon } = await startDaemon(['--config', writeConfig({ ...config, reply: { maxAttempts: 1_000 } }), '--log-level', 'trace']);
    await botIsReading(pod);

    /** Injects `faults` until the daemon logs a line that `match` accepts. */
    const faultUntil = async (faults: FaultOptions, what: string, match: (json: Record<string, unknown>) => boolean) => {
      const since = daemon.stdoutLines().length;
      pod.setFaults(faults);
      await waitForLine(daemon, what, match, { since });
    };
    const failed = (component: string, field: string, value: unknown) => (json: Record<string, unknown>) =>
      json['component'] === component && json['level'] === 40 && json[field] === value;

    // A reply meets expired sessions (re-authentication), dropped connections and server errors, then goes.
    pod.postMessage('alice', 'im-alice', '/count');
    await faultUntil({ sessionExpiryRate: 1, only: ['message'] }, 'a reply refused 401', failed('reply', 'status', 401));
    await faultUntil({ dropConnectionRate: 1, only: ['message'] }, 'a reply without response', failed('reply', 'code', 'CHORUS_ERR_HTTP_NETWORK'));
    await faultUntil({ serverErrorRate: 1, only: ['message'] }, 'a reply refused 500', failed('reply', 'status', 500));
    pod.setFaults({});
    await eventually('count=1', () => (textsOf(pod, 'im-alice').includes('count=1') ? true : undefined));
    // The datafeed read after the next event meets the same, then recovers.
    pod.postMessage('alice', 'im-alice', '/count');
    await faultUntil({ sessionExpiryRate: 1, only: ['datafeed'] }, 'a read refused 401', failed('datafeed', 'status', 401));
    await faultUntil({ dropConnectionRate: 1, only: ['datafeed'] }, 'a read without response', failed('datafeed', 'code', 'CHORUS_ERR_HTTP_NETWORK'));
    pod.setFaults({});
    pod.postMessage('alice', 'im-alice', '/count');
    await eventually('count=3', () => (textsOf(pod, 'im-alice').includes('count=3') ? true : undefined));

    const as = ['--config', writeConfig(config), '--log-level', 'trace', '--pod', proxy.url, '--stream', 'im-alice', '--as', 'alice'];
    const said = startChorus(['say', ...as, '--key', join(keysDir, 'alice.pem'), '/count']);
    expect((await said.exited).code).toBe(0);
    const read = startChorus(['messages', ...as, '--key', join(keysDir, 'alice.pem')]);
    expect((await read.exited).code).toBe(0);
    daemon.signal('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    // The JWTs of the bot and of Alice, and the tokens of every session: the bot's first, its re-authentications
    // (at least one per 401 fault), say's and messages'.
    const secrets = [...proxy.secrets()];
    expect(secrets.filter((secret) => JWT.test(secret)).length).toBeGreaterThanOrEqual(2);
    expect(secrets.filter((secret) => /^[0-9a-f]{96}$/.test(secret)).length).toBeGreaterThanOrEqual(10);
    const children = [daemon, said, read];
    const outputs = children.flatMap((child) => [child.stdout(), child.stderr()]);
    expect(secrets.filter((secret) => outputs.some((output) => output.includes(secret)))).toEqual([]);
    expectNoSecrets(outputs, children.flatMap((child) => [...child.stdoutLines(), ...child.stderrLines()]), privateKeyLines(keysDir));
  });
});

describe('a bad config or a bad call', () => {
  const badConfigs: [string, (document: ConfigDocument) => void, string][] = [
    ['a port that is not a number', (d) => (d.http['port'] = 'x'), ': http.port: Invalid input: expected number, received string'],
    ['an unknown top-level field', (d) => (d['nope'] = 1), ': (root): Unrecognized key: "nope"'],
    ['an unknown nested field', (d) => (d.embeddedPod['nope'] = 1), ': embeddedPod: Unrecognized key: "nope"'],
    [
      'a stream member that is no user',
      (d) => d.embeddedPod.streams[0]?.members.push('7000000000999'),
      'streams.0.members.3: unknown user id 7000000000999',
    ],
  ];

  // Each case in its own child, all at once; the case is part of what is compared, so a failure names it.
  it('exits 1 naming the field and the reason on a bad config', async () => {
    const results = await Promise.all(
      badConfigs.map(async ([name, change, reason]) => {
        const document = embeddedConfig();
        change(document);
        const result = await runChorus(['run', '--config', writeConfig(document, `${name.replaceAll(' ', '-')}.yaml`)]);
        return { name, code: result.code, stderr: result.stderr, stdout: result.stdout, reason };
      }),
    );
    for (const { name, code, stderr, stdout, reason } of results) {
      expect({ name, code, stdout, reasonShown: stderr.startsWith('chorus: ') && stderr.includes(reason), usage: stderr.includes('usage:') }).toEqual({
        name,
        code: 1,
        stdout: '', // nothing started
        reasonShown: true,
        usage: false,
      });
    }
  });

  const badCalls: [string[], string][] = [
    [['run', '--stream', 'x'], 'run does not take --stream'],
    [['say', '--pod', 'http://127.0.0.1:9', '--stream', 'demo-im-alice', 'hello'], 'say needs --as'],
    [['say', '--pod', 'http://127.0.0.1:9', '--stream', 'demo-im-alice', '--as', 'alice'], 'say needs an argument'],
    [['run', '--log-level', 'loud'], '--log-level must be one of'],
    [['pod', '--port', 'x'], '--port must be a whole number'],
  ];

  it('prints usage and exits 2 on a bad call', async () => {
    const results = await Promise.all(badCalls.map(async ([args, reason]) => ({ args, reason, ...(await runChorus(args)) })));
    for (const { args, reason, code, stderr, stdout } of results) {
      expect({ args, code, stdout, reasonShown: stderr.includes(`chorus: ${reason}`), usage: stderr.includes('usage: chorus <command>') }).toEqual({
        args,
        code: 2,
        stdout: '',
        reasonShown: true,
        usage: true,
      });
    }
  });
});

describe('chorus pod', () => {
  it('serves alone on the --port given, refuses a garbage token with 401, and exits 0 on SIGINT', async () => {
    const document = embeddedConfig();
    document.embeddedPod.port = 7443; // overridden by --port
    const config = writeConfig(document);
    const pod = startChorus(['pod', '--config', config, '--port', '0']);
    // Without a command output of its own, `pod` logs JSON lines to stderr.
    const running = await waitForLine(pod, "'embedded pod running'", withMessage('embedded pod running; stop with Ctrl-C'), {
      stream: 'stderr',
    });
    const url = text(running['url']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(url).port).not.toBe('7443');

    const refused = await fetch(`${url}/login/pubkey/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'garbage' }),
    });
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 401,
      body: { code: 401, message: 'Invalid authentication token' },
    });
    // A user of the config talks to it with the key it wrote to keysDir.
    const said = await runChorus(['say', '--config', config, '--pod', url, '--stream', 'demo-room', '--as', 'bob', 'hello']);
    expect(said.code, said.stderr).toBe(0);
    expect(existsSync(join(tmp, 'keys', 'bob.pem'))).toBe(true);

    pod.signal('SIGINT');
    expect(await pod.exited).toEqual({ code: 0, signal: null });
    expect(pod.stderrLines().map((line) => line.json?.['msg'])).toContain('pod closed');
  });
});

/**
 * `runDaemon` and `recordCommand` in this process, against the embedded pod behind a loopback proxy that
 * records every exchange (method, path, headers, body, status) and can refuse the authenticate calls: what
 * the daemon sends (the datafeed create body, `X-Trace-Id`) and what it counts on `/metrics`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../src/config/config-schema.ts';
import { recordCommand } from '../src/daemon/record-command.ts';
import { runDaemon, type Daemon } from '../src/daemon/run-daemon.ts';
import { captureLog } from '../src/datafeed/loopback.test-support.ts';
import { isChorusError } from '../src/errors.ts';
import { createEmbeddedPod, type EmbeddedPod } from '../src/pod/create-embedded-pod.ts';
import { eventually } from './support/chorus-child.ts';
import { startRecordingProxy, type Exchange, type RecordingProxy } from './support/recording-proxy.ts';

const BOT = { userId: '7000000000001', username: 'chorus-bot', displayName: 'Chorus Bot' };
const ALICE = { userId: '7000000000101', username: 'alice', displayName: 'Alice Ng' };
const TRACE_ID = /^[A-Za-z0-9]{6}$/;

let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'chorus-run-daemon-test-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

/** The embedded pod (short long polls) with the bot and Alice in an IM, behind a recording proxy. */
async function startPodBehindProxy(): Promise<{ pod: EmbeddedPod; proxy: RecordingProxy; keyPath: string }> {
  const keysDir = join(tmp, 'keys');
  const pod = await createEmbeddedPod({
    keysDir,
    users: [BOT, ALICE],
    streams: [{ streamId: 'im-alice', streamType: 'IM', members: [BOT.userId, ALICE.userId] }],
    datafeed: { pollTimeoutMs: 200 },
  });
  cleanups.push(() => pod.close());
  const proxy = await startRecordingProxy(pod.url);
  cleanups.push(() => proxy.close());
  return { pod, proxy, keyPath: join(keysDir, 'chorus-bot.pem') };
}

/** A config for a real pod at `url`: no listeners, memory state, fast retries, `datafeed` and top-level `more` fields merged in. */
function configAt(url: string, keyPath: string, datafeed: Record<string, unknown> = {}, more: Record<string, unknown> = {}): Config {
  const listeners = join(tmp, 'listeners');
  mkdirSync(listeners, { recursive: true });
  return configSchema.parse({
    bot: { username: BOT.username, privateKey: { path: keyPath } },
    pod: { url },
    agent: { url },
    keyManager: { url },
    datafeed: { retry: { initialIntervalMs: 10, multiplier: 2, maxIntervalMs: 50 }, ...datafeed },
    http: { host: '127.0.0.1', port: 0 },
    state: { backend: 'memory' },
    listeners,
    ...more,
  });
}

async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  const daemon = await runDaemon(config, log);
  let stopped = false;
  cleanups.push(async () => {
    if (!stopped) await daemon.stop();
  });
  return {
    ...daemon,
    stop: async () => {
      stopped = true;
      await daemon.stop();
    },
  };
}

/** The value of a Prometheus sample `series` (name with labels), or undefined when absent. */
function sampleOf(metrics: string, series: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metricsOf(daemon: Daemon): Promise<string> {
  const response = await fetch(`${daemon.httpUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

const creates = (proxy: RecordingProxy): Exchange[] => proxy.exchanges.filter((e) => e.method === 'POST' && e.url === '/agent/v5/datafeeds');

describe('runDaemon against a pod', () => {
  it('creates its feed with includeInvisible: true when datafeed.includeInvisible is set, every call with an X-Trace-Id', async () => {
    const { pod, proxy, keyPath } = await startPodBehindProxy();
    const daemon = await startDaemon(configAt(proxy.url, keyPath, { includeInvisible: true }), captureLog('info').log);
    await eventually('the bot reading its datafeed', () => (pod.stats().waitingReads > 0 ? true : undefined));
    await daemon.stop();

    expect(creates(proxy).map((e) => JSON.parse(e.body.toString('utf8')) as unknown)).toEqual([{ includeInvisible: true }]);
    const ids = proxy.exchanges.map((e) => e.headers['x-trace-id']);
    expect(ids.length).toBeGreaterThanOrEqual(6); // 2 authentications, sessioninfo, list, create, read(s)
    for (const id of ids) expect(id).toMatch(TRACE_ID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('leaves includeInvisible out of the create body by default', async () => {
    const { pod, proxy, keyPath } = await startPodBehindProxy();
    const daemon = await startDaemon(configAt(proxy.url, keyPath), captureLog('info').log);
    await eventually('the bot reading its datafeed', () => (pod.stats().waitingReads > 0 ? true : undefined));
    await daemon.stop();
    expect(creates(proxy).map((e) => JSON.parse(e.body.toString('utf8')) as unknown)).toEqual([{}]);
  });

  it('gives memory back once idle (memory.trimWhenIdleMs): once after start-up, again only after events', async () => {
    const { pod, proxy, keyPath } = await startPodBehindProxy(); // empty long polls every 200 ms: not activity
    const capture = captureLog('debug');
    const trims = () => capture.lines().filter((line) => line['msg'] === 'idle: memory trimmed');
    const daemon = await startDaemon(configAt(proxy.url, keyPath, {}, { memory: { trimWhenIdleMs: 300 } }), capture.log);
    await eventually('a trim after start-up', () => (trims().length > 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // idle still, over several empty reads
    expect(trims()).toHaveLength(1);
    const [first] = trims();
    expect(first?.['rssAfter']).toEqual(expect.any(Number));
    expect(first?.['ms']).toEqual(expect.any(Number));

    pod.postMessage(ALICE.username, 'im-alice', 'hello');
    await eventually('a trim after the event', () => (trims().length > 1 ? true : undefined));
    await daemon.stop();
    expect(trims()).toHaveLength(2);
  });

  it('counts re-authentications after a 401 in chorus_reauthentications_total: ok, then failed when refused', async () => {
    const { pod, proxy, keyPath } = await startPodBehindProxy();
    const capture = captureLog('info');
    const daemon = await startDaemon(configAt(proxy.url, keyPath), capture.log);
    await eventually('the bot reading its datafeed', () => (pod.stats().waitingReads > 0 ? true : undefined));
    const before = await metricsOf(daemon);
    expect(before).toMatch(/^# HELP chorus_reauthentications_total \S/m);
    expect(before).toContain('\n# TYPE chorus_reauthentications_total counter\n');
    expect(sampleOf(before, 'chorus_reauthentications_total{outcome="ok"}') ?? 0).toBe(0);

    // The pod expires the session on the next datafeed call: the daemon re-authenticates and reads on.
    pod.setFaults({ sessionExpiryRate: 1, only: ['datafeed'] });
    const counted = await eventually('a re-authentication counted', async () => {
      const value = sampleOf(await metricsOf(daemon), 'chorus_reauthentications_total{outcome="ok"}') ?? 0;
      return value >= 1 ? value : undefined;
    });
    pod.setFaults({});
    const authentications = (): number => proxy.exchanges.filter((e) => e.url === '/login/pubkey/authenticate').length;
    expect(authentications()).toBeGreaterThanOrEqual(1 + counted);
    const refusedIds = new Set(proxy.exchanges.filter((e) => e.response?.status === 401).map((e) => e.headers['x-trace-id']));
    const logged = capture.lines().filter((l) => l['msg'] === 'session refused, re-authenticating');
    expect(logged.length).toBeGreaterThanOrEqual(1);
    for (const line of logged) {
      expect(line['traceId']).toMatch(TRACE_ID);
      expect(refusedIds.has(line['traceId'] as string)).toBe(true);
    }
    pod.postMessage('alice', 'im-alice', 'hello');
    await eventually('the message read after the recovery', () => (pod.stats().acked > 0 ? true : undefined));

    // Now the pod refuses the next datafeed call and the login refuses the bot: a failed re-authentication.
    proxy.onRequest = (exchange) =>
      exchange.url.endsWith('/pubkey/authenticate')
        ? { status: 401, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ code: 401, message: 'Invalid credentials' })) }
        : undefined;
    pod.setFaults({ sessionExpiryRate: 1, only: ['datafeed'] });
    const err = await daemon.failed;
    expect(isChorusError(err, 'CHORUS_ERR_AUTH_FAILED')).toBe(true);
    const after = await metricsOf(daemon);
    expect(sampleOf(after, 'chorus_reauthentications_total{outcome="failed"}')).toBe(1);
    expect(sampleOf(after, 'chorus_reauthentications_total{outcome="ok"}')).toBeGreaterThanOrEqual(counted);
    await daemon.stop();
  });
});

describe('recordCommand against a pod', () => {
  it('creates its feed (tag chorus-record) with includeInvisible: true when datafeed.includeInvisible is set', async () => {
    const { pod, proxy, keyPath } = await startPodBehindProxy();
    const out = join(tmp, 'feed.jsonl');
    writeFileSync(out, '');
    const recording = recordCommand({ config: configAt(proxy.url, keyPath, { includeInvisible: true }), out, limit: 1, log: captureLog('info').log });
    await eventually('the recorder reading its datafeed', () => (pod.stats().waitingReads > 0 ? true : undefined));
    pod.postMessage('alice', 'im-alice', 'hello');
    expect(await recording).toBe(1);
    expect(creates(proxy).map((e) => JSON.parse(e.body.toString('utf8')) as unknown)).toEqual([{ tag: 'chorus-record', includeInvisible: true }]);
  });
});

/**
 * The composition root of `chorus run`: pod connection (or the embedded pod), session, listeners, pipeline,
 * datafeed, replies, health and metrics, and the orderly stop.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { tap, type Subscription } from 'rxjs';
import type { Config } from '../config/config-schema.ts';
import { createAgentDatafeedSource } from '../datafeed/agent-datafeed-source.ts';
import { createAgentHttp } from '../datafeed/agent-http.ts';
import type { DatafeedSource } from '../datafeed/datafeed-source.ts';
import { createSymphonySession } from '../datafeed/symphony-session.ts';
import { ChorusError } from '../errors.ts';
import { createAgentSender } from '../reply/agent-sender.ts';
import type { ReplySender } from '../reply/reply-sender.ts';
import { createMemoryDeadLetters } from '../routing/dead-letters.ts';
import { createEventPipeline } from '../routing/event-pipeline.ts';
import { openStateBackend } from '../state/open-state-backend.ts';
import { runWithInbox } from '../routing/run-with-inbox.ts';
import { toHealth, startHealthServer } from './health-server.ts';
import { startIdleTrim } from './idle-trim.ts';
import { loadListeners } from './load-listeners.ts';
import { readPrivateKey } from './private-key.ts';
import { createDaemonMetrics, type DaemonMetrics } from './metrics.ts';
import { startConfiguredPod, type RunningPod } from './start-configured-pod.ts';

/** A running daemon. */
export type Daemon = {
  /** Where `/healthz` and `/metrics` are served. */
  readonly httpUrl: string;
  /** The embedded pod's URL, when the config runs one. */
  readonly podUrl: string | undefined;
  /**
   * Stops in order: no new datafeed reads; in-flight events finish; the finished batch is acknowledged;
   * then the HTTP side, the pod and the connections close. Resolves when all is closed.
   */
  stop(): Promise<void>;
  /** Resolves when the pipeline ended by itself (a fatal datafeed error), with that error. */
  readonly failed: Promise<Error>;
};

function countingSender(sender: ReplySender, metrics: DaemonMetrics): ReplySender {
  return {
    send: async (message, options) => {
      try {
        await sender.send(message, options);
        metrics.repliesSent.inc();
      } catch (err) {
        metrics.repliesFailed.inc();
        throw err;
      }
    },
  };
}

function privateKeyOf(config: Config, pod: RunningPod | undefined, username: string): string {
  return pod === undefined ? readPrivateKey(config) : pod.privateKeyPem(username);
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${field}: required to connect to a pod`);
  return value;
}

/**
 * Starts the daemon described by `config`.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID (a field missing for a real pod), CHORUS_ERR_AUTH_FAILED
 * (the pod refused the bot's key), CHORUS_ERR_LISTENER_INVALID / CHORUS_ERR_PATTERN_INVALID (listeners),
 * CHORUS_ERR_POD_START (the embedded pod could not start).
 */
export async function runDaemon(config: Config, log: Logger): Promise<Daemon> {
  const username = required(config.bot.username, 'bot.username');
  const pod = config.embeddedPod === undefined ? undefined : await startConfiguredPod(config.embeddedPod, log);
  const closers: (() => Promise<void>)[] = [];
  try {
    const podUrl = pod?.url ?? required(config.pod?.url, 'pod.url');
    const agentUrl = pod?.url ?? required(config.agent?.url, 'agent.url');
    // Optional: a pod with Simplified Key Delivery needs none (the session says so at its first login).
    const keyManagerUrl = pod?.url ?? config.keyManager?.url;
    // Made before the session: its first calls (sessioninfo) can already be refused and re-authenticated.
    const metrics = createDaemonMetrics();
    const http = createAgentHttp({ onReauthentication: (outcome) => metrics.reauthentications.inc({ outcome }) });
    closers.push(() => http.close());
    const session = createSymphonySession({
      podUrl,
      keyManagerUrl,
      agentUrl,
      username,
      privateKeyPem: privateKeyOf(config, pod, username),
      http,
      log,
    });
    const identity = await session.sessionInfo();
    log.info({ userId: identity.userId, username: identity.username }, 'authenticated');

    const state = await openStateBackend(config.state, log);
    closers.push(() => state.close());
    const pipeline = await createEventPipeline({
      listeners: await loadListeners(config.listeners),
      bot: { userId: identity.userId, displayName: identity.displayName },
      store: state.store,
      sender: countingSender(
        createAgentSender({
          agentUrl,
          session,
          http,
          log,
          maxAttempts: config.reply.maxAttempts,
          minIntervalMsPerStream: config.reply.minIntervalMsPerStream,
          retry: config.datafeed.retry,
        }),
        metrics,
      ),
      // Used by pipeline.run only; in the durable mode below dead letters go to the state backend.
      deadLetters: createMemoryDeadLetters(1_000),
      log,
    });
    const datafeed = createAgentDatafeedSource({
      agentUrl,
      session,
      http,
      log,
      readTimeoutMs: config.datafeed.readTimeoutMs,
      retry: config.datafeed.retry,
      ...(config.datafeed.tag === undefined ? {} : { tag: config.datafeed.tag }),
      includeInvisible: config.datafeed.includeInvisible,
      onError: (status) => metrics.datafeedErrors.inc({ status }),
    });
    const startedAtMs = Date.now();
    let lastReadAtMs: number | undefined;
    let lastEventsAtMs = startedAtMs; // the last batch with events (activity, for the idle trim)
    const source: DatafeedSource = {
      batches$: datafeed.batches$.pipe(
        tap((batch) => {
          lastReadAtMs = Date.now();
          if (batch.events.length > 0) lastEventsAtMs = lastReadAtMs;
          metrics.eventsRead.inc(batch.events.length);
        }),
      ),
    };
    const healthServer = await startHealthServer({
      host: config.http.host,
      port: config.http.port,
      health: () => toHealth(lastReadAtMs, startedAtMs, Date.now()),
      registry: metrics.registry,
    });
    closers.push(() => healthServer.close());
    const stopTrim = startIdleTrim({ idleMs: config.memory.trimWhenIdleMs, lastActiveAt: () => lastEventsAtMs, log });
    closers.push(async () => stopTrim());

    let reportFailure: (err: Error) => void = () => undefined;
    const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
    let finished: () => void = () => undefined;
    const completed = new Promise<void>((resolve) => (finished = resolve));
    const stopping = new AbortController();
    const delivery$ = runWithInbox({
      pipeline,
      source,
      inbox: state.inbox,
      store: state.store,
      log,
      owner: config.state.instanceName ?? hostname(),
      concurrency: config.state.concurrency,
      maxAttempts: config.state.maxAttempts,
      leaseMs: config.state.leaseMs,
      stopSignal: stopping.signal,
    });
    const subscription: Subscription = delivery$.subscribe({
      next: (outcome) => {
        metrics.eventsByStatus.inc({ status: outcome.status });
        if (outcome.durationMs !== undefined) metrics.handlerSeconds.observe(outcome.durationMs / 1000);
      },
      error: (err: unknown) => {
        log.fatal({ err }, 'datafeed stopped');
        finished();
        reportFailure(err instanceof Error ? err : new Error(String(err)));
      },
      complete: finished,
    });
    log.info({ http: healthServer.url, listeners: config.listeners }, 'bot running');
    void pod?.startDemo(log);

    return {
      httpUrl: healthServer.url,
      podUrl: pod?.url,
      failed,
      async stop() {
        log.info('stopping: no new reads, finishing events in flight');
        await datafeed.stop(); // the last batch is appended and acknowledged
        stopping.abort(); // then no further inbox event is taken; those in flight finish
        await completed;
        subscription.unsubscribe();
        for (const close of closers.reverse()) await close();
        await pod?.close();
        log.info('stopped');
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close();
    await pod?.close();
    throw err;
  }
}

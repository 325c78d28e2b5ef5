/**
 * The Agent API adapter of the DatafeedSource port: datafeed v2 (`/agent/v5/datafeeds`) read in a loop, as
 * the BDKs do it (reference §1, §4.1, §4.2), with one batch in flight at a time.
 */
import type { Logger } from 'pino';
import { Observable, type Subscriber } from 'rxjs';
import { z } from 'zod';
import { ChorusError, ERROR_CODES, isChorusError } from '../errors.ts';
import { v5EventListSchema, type V5EventList } from '../events/wire-schema.ts';
import { createAgentHttp, HttpError, joinUrl, type AgentHttp, type AuthSession } from './agent-http.ts';
import { backoffDelayMs } from './backoff.ts';
import type { BatchOutcome, DatafeedBatch, DatafeedSource } from './datafeed-source.ts';
import { realSleep, withRetry, type RetryOptions, type Sleep } from './with-retry.ts';

/** Options of {@link createAgentDatafeedSource}. */
export type AgentDatafeedSourceOptions = {
  /** The agent's base URL without `/agent`, e.g. `https://acme-agent.symphony.com`. */
  readonly agentUrl: string;
  readonly session: AuthSession;
  /** Default: a new {@link createAgentHttp}. */
  readonly http?: AgentHttp;
  /**
   * Share a tagged feed: reuse the listed feed whose id is the tag and type `fanout`, else create one with
   * this tag (BDK Java `datafeed.tag`, reference §1.4). Default: none (reuse the first `_f` feed).
   */
  readonly tag?: string;
  /**
   * Create feeds that also carry the events of invisible rooms: the create body gets `includeInvisible: true`
   * (SPEC `V5DatafeedCreateBody`, default false; BDK Java `datafeed.includeInvisible`, Agent 26.2.1+). When
   * false the field is left out, as the BDK does, so agents older than 26.2.1 see the body they know. A reused
   * feed keeps the setting it was created with. Default: false.
   */
  readonly includeInvisible?: boolean;
  /** HTTP timeout of a read; must exceed the pod's 30 s long poll. Default: 60_000 ms (BDK Java example). */
  readonly readTimeoutMs?: number;
  /** Backoff of transient failures. Default: 500 ms, ×2, 300_000 ms, unlimited attempts (BDK datafeed). */
  readonly retry?: RetryOptions;
  /** How long `stop()` lets its last, acknowledging read run. Default: 1_000 ms. */
  readonly stopReadTimeoutMs?: number;
  readonly log: Logger;
  /**
   * Told of every failed datafeed call that is recovered from by retrying or by recreating the feed (400),
   * with the HTTP status, or `network` for connection failures and timeouts. For metrics. A 401 is not
   * reported here: the HTTP layer re-authenticates and resends the call itself.
   */
  readonly onError?: (status: string) => void;
  /** Default: node:timers/promises. Tests inject one that does not wait. */
  readonly sleep?: Sleep;
};

/** A live datafeed source; `stop()` ends it gracefully. */
export type AgentDatafeedSource = DatafeedSource & {
  /**
   * Stops every running loop: no new read starts (a long poll in progress is aborted; its events, if the pod
   * had picked any, come back after the visibility timeout); once the batch in flight is settled, one last
   * read carries its ackId so the handled events are acknowledged (aborted after `stopReadTimeoutMs`; the
   * events it returns are not emitted and the pod re-queues them), unless nothing is left to acknowledge (the
   * read that carried the last events' ackId completed, or the last batch was empty: an idle feed stops at
   * once), then `batches$` completes. Resolves when
   * all of that is done; at once when nothing runs. A batch that is never settled keeps it waiting:
   * unsubscribe to stop at once.
   */
  stop(): Promise<void>;
};

/** Ids of datafeed v2 ("fanout") feeds (BDK Java `DatafeedLoopV2.FANOUT_FEED_PATTERN`, reference §1.1). */
const FANOUT_FEED_PATTERN = /^[^\s_]+_f(_[^\s_]+)?$/;

/** `V5Datafeed` (SPEC) as far as chorus uses it. */
const v5DatafeedSchema = z.object({ id: z.string().min(1), type: z.string().nullish() });
const v5DatafeedListSchema = z.array(v5DatafeedSchema).nullish();

/**
 * Creates the datafeed v2 source. Each subscription to `batches$` runs one loop:
 *
 * 1. list the feeds (`GET /agent/v5/datafeeds`) and reuse the first whose id matches `_f` (or, with `tag`,
 *    id === tag and type `fanout`), else create one (`POST /agent/v5/datafeeds` with body
 *    `{ tag?, includeInvisible?: true }`, 200 or 201); ackId `''`;
 * 2. read (`POST /agent/v5/datafeeds/{id}/read` `{ackId}`) and emit the response as one batch (`events`
 *    null or absent → `[]`; empty batches are emitted too);
 * 3. wait for the batch's `settle`: `ack` makes the next read send the response's ackId; `requeue` keeps
 *    the previous one so the pod redelivers the batch after its visibility timeout (reference §1.2).
 *
 * Failures (reference §1.3): 400 on a read → delete the feed (client errors ignored), create a new one, reset
 * the ackId (logged at warn: events sent in the gap may be lost; repeated 400s back off); 401 → the session
 * re-authenticates and the call is retried; 429 → wait `Retry-After` (else backoff); 5xx and network errors
 * → backoff with full jitter, unlimited by default, reset after each success. Recoveries are logged with
 * `{ component: 'datafeed' }`, the status and the feed id, never a token. Unsubscribing aborts the request
 * in flight at once; no final read is sent.
 *
 * @throws ChorusError CHORUS_ERR_DATAFEED_FAILED through `batches$` on 403 ("too many feeds" or a missing
 *   entitlement), 404 or another client error, an invalid response, or when `retry.maxAttempts` tries
 *   failed (the HttpError as `cause`); CHORUS_ERR_AUTH_FAILED as the session throws it.
 * @example
 * const source = createAgentDatafeedSource({ agentUrl, session, log });
 * const done = lastValueFrom(pipeline.run(source), { defaultValue: undefined });
 * process.once('SIGTERM', () => void source.stop());
 */
export function createAgentDatafeedSource(options: AgentDatafeedSourceOptions): AgentDatafeedSource {
  const runs = new Set<{ stop(): Promise<void> }>();
  const http = options.http ?? createAgentHttp();
  const batches$ = new Observable<DatafeedBatch>((subscriber) => {
    const run = startLoop(options, http, subscriber);
    runs.add(run);
    void run.done.finally(() => runs.delete(run));
    return () => run.teardown();
  });
  return {
    batches$,
    stop: async () => {
      await Promise.all([...runs].map((run) => run.stop()));
    },
  };
}

/** One subscription's loop. */
function startLoop(options: AgentDatafeedSourceOptions, http: AgentHttp, subscriber: Subscriber<DatafeedBatch>) {
  const { session, tag } = options;
  const createBody = { ...(tag === undefined ? {} : { tag }), ...(options.includeInvisible === true ? { includeInvisible: true } : {}) };
  const sleep = options.sleep ?? realSleep;
  const retry = options.retry ?? {};
  const log = options.log.child({ component: 'datafeed' });
  const feedsUrl = joinUrl(options.agentUrl, '/agent/v5/datafeeds');
  const feedUrl = (id: string): string => `${feedsUrl}/${encodeURIComponent(id)}`;

  // Unsubscribing aborts everything; stop() aborts reads and waits but not the settling and the final read.
  const teardown = new AbortController();
  const stopping = new AbortController();
  const loopSignal = AbortSignal.any([teardown.signal, stopping.signal]);

  let feedId: string | undefined;
  let ackId = ''; // what the next read sends
  // Past this ackId nothing is left to acknowledge: what the last completed read sent, or the ackId of an empty
  // batch (the events that go with an ackId are what it acknowledges, SPEC readDatafeed; an empty batch has none).
  let confirmedAckId = '';

  const retrying = <T>(op: string, call: () => Promise<T>): Promise<T> =>
    withRetry(call, {
      retry,
      sleep,
      signal: loopSignal,
      onRetry: (err, attempt, delayMs) => {
        options.onError?.(err.status === undefined ? 'network' : String(err.status));
        log.warn(
          { op, status: err.status, code: err.code, traceId: err.traceId, attempt, delayMs, datafeedId: feedId, err },
          'datafeed call failed, retrying',
        );
      },
    });

  const createFeed = async (): Promise<string> => {
    const feed = await retrying('create', () =>
      http.request({ method: 'POST', url: feedsUrl, json: createBody, session, signal: loopSignal, log, schema: v5DatafeedSchema }),
    );
    log.info({ datafeedId: feed.id, includeInvisible: createBody.includeInvisible === true }, 'datafeed created');
    return feed.id;
  };

  const openFeed = async (): Promise<string> => {
    const url = tag === undefined ? feedsUrl : `${feedsUrl}?${new URLSearchParams({ tag }).toString()}`;
    const feeds = await retrying('list', () =>
      http.request({ method: 'GET', url, session, signal: loopSignal, log, schema: v5DatafeedListSchema }),
    );
    const found = (feeds ?? []).find((feed) =>
      tag === undefined ? FANOUT_FEED_PATTERN.test(feed.id) : feed.id === tag && feed.type === 'fanout',
    );
    if (found === undefined) return createFeed();
    log.info({ datafeedId: found.id }, 'datafeed reused');
    return found.id;
  };

  const deleteFeed = async (id: string): Promise<void> => {
    try {
      await retrying('delete', () => http.request({ method: 'DELETE', url: feedUrl(id), session, signal: loopSignal, log }));
    } catch (err) {
      if (!isChorusError(err, 'CHORUS_ERR_HTTP_REJECTED')) throw err;
      log.info({ datafeedId: id, status: (err as HttpError).status }, 'datafeed delete refused, ignored');
    }
  };

  const readOnce = (id: string, signal: AbortSignal, timeoutMs: number): Promise<V5EventList> =>
    http.request({ method: 'POST', url: `${feedUrl(id)}/read`, json: { ackId }, session, signal, timeoutMs, log, schema: v5EventListSchema });

  /** Reads with retries; a 400 recreates the feed (BDK `recreateDatafeed`) and reads again. */
  const read = async (): Promise<V5EventList> => {
    const maxRecreations = retry.maxAttempts ?? Infinity;
    for (let recreations = 0; ; recreations += 1) {
      const id = feedId ?? (await openFeed());
      feedId = id;
      try {
        const response = await retrying('read', () => readOnce(id, loopSignal, options.readTimeoutMs ?? 60_000));
        confirmedAckId = ackId;
        return response;
      } catch (err) {
        if (!(err instanceof HttpError && err.status === 400) || recreations + 1 >= maxRecreations) throw err;
        options.onError?.('400');
        log.warn(
          { status: 400, traceId: err.traceId, datafeedId: id, err },
          'datafeed is gone or the ackId was refused: recreating it; events sent before the new feed exists may be lost',
        );
        // A fresh feed refused at once again: back off instead of spinning on delete/create.
        if (recreations > 0) await sleep(backoffDelayMs(recreations - 1, retry), loopSignal);
        await deleteFeed(id);
        feedId = await createFeed();
        ackId = '';
        confirmedAckId = '';
      }
    }
  };

  /** Emits one batch and resolves with its outcome once settled; rejects when unsubscribed first. */
  const emit = (response: V5EventList): Promise<BatchOutcome> =>
    new Promise((resolve, reject) => {
      const onTeardown = (): void => reject(new Error('unsubscribed'));
      teardown.signal.addEventListener('abort', onTeardown, { once: true });
      let settled = false;
      subscriber.next({
        events: response.events ?? [],
        ackId: response.ackId,
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          teardown.signal.removeEventListener('abort', onTeardown);
          resolve(outcome);
        },
      });
      if (teardown.signal.aborted) onTeardown();
    });

  const loop = async (): Promise<void> => {
    while (!loopSignal.aborted) {
      const response = await read();
      const outcome = await emit(response);
      if (outcome === 'ack') {
        ackId = response.ackId;
        if ((response.events ?? []).length === 0) confirmedAckId = ackId;
      } else log.info({ datafeedId: feedId, ackId: response.ackId }, 'batch requeued: the next read keeps the previous ackId');
    }
  };

  /** stop(): acknowledges what was handled with one short read whose events are dropped (re-queued by the pod). */
  const finalRead = async (): Promise<void> => {
    if (feedId === undefined || ackId === confirmedAckId) return;
    const timeoutMs = options.stopReadTimeoutMs ?? 1_000;
    try {
      await readOnce(feedId, AbortSignal.any([teardown.signal, AbortSignal.timeout(timeoutMs)]), timeoutMs);
      log.info({ datafeedId: feedId }, 'datafeed stopped, last batch acknowledged');
    } catch (err) {
      log.info({ datafeedId: feedId, err }, 'datafeed stopped, last acknowledging read did not complete');
    }
  };

  const done = (async () => {
    try {
      await loop();
    } catch (err) {
      if (!loopSignal.aborted) {
        subscriber.error(toFatal(err));
        return;
      }
    }
    if (teardown.signal.aborted) return;
    await finalRead();
    subscriber.complete();
  })();

  return {
    done,
    stop: async (): Promise<void> => {
      stopping.abort();
      await done;
    },
    teardown: (): void => teardown.abort(),
  };
}

/** The error `batches$` fails with: CHORUS_ERR_AUTH_FAILED as is, anything else as CHORUS_ERR_DATAFEED_FAILED. */
function toFatal(err: unknown): ChorusError {
  if (isChorusError(err, 'CHORUS_ERR_AUTH_FAILED') || isChorusError(err, 'CHORUS_ERR_DATAFEED_FAILED')) return err;
  const detail = err instanceof Error ? err.message : String(err);
  let reason = 'unexpected failure';
  if (err instanceof HttpError) {
    if (ERROR_CODES[err.code] === 'transient') reason = 'retries ran out';
    else if (err.status === 403) reason = 'forbidden: too many feeds (20 active per service account) or a missing entitlement';
    else if (err.status === 404) reason = 'not found: is agentUrl an Agent 2.57+ with datafeed v2?';
    else if (err.code === 'CHORUS_ERR_HTTP_RESPONSE_INVALID') reason = 'invalid response';
    else reason = 'refused';
  }
  return new ChorusError('CHORUS_ERR_DATAFEED_FAILED', `datafeed stopped, ${reason}: ${detail}`, { cause: err });
}

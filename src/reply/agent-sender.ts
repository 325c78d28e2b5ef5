/**
 * The Agent API adapter of the ReplySender port: `POST /agent/v4/stream/{sid}/message/create` (SPEC,
 * reference §3.1) with retries and per-stream pacing (reference §3.3).
 */
import type { Logger } from 'pino';
import { ChorusError, isChorusError } from '../errors.ts';
import { createAgentHttp, joinUrl, type AgentHttp, type AuthSession } from '../datafeed/agent-http.ts';
import { realSleep, withRetry, type RetryOptions, type Sleep } from '../datafeed/with-retry.ts';
import type { OutboundMessage, ReplySender, SendOptions } from './reply-sender.ts';

/** Options of {@link createAgentSender}. */
export type AgentSenderOptions = {
  /** The agent's base URL without `/agent`, e.g. `https://acme-agent.symphony.com`. */
  readonly agentUrl: string;
  readonly session: AuthSession;
  /** Default: a new {@link createAgentHttp}. */
  readonly http?: AgentHttp;
  readonly log: Logger;
  /** Tries per message, the first included. Default: 5. */
  readonly maxAttempts?: number;
  /** Backoff between tries. Default: 500 ms, ×2, 300_000 ms (a 429's `Retry-After` wins, capped at the max). */
  readonly retry?: Omit<RetryOptions, 'maxAttempts'>;
  /**
   * Least time between the end of one message to a stream and the start of the next one to the same stream.
   * Default: 0 ms (one after another, no gap). Symphony advises at most 2 messages/s in large rooms
   * (reference §3.3), i.e. 500.
   */
  readonly minIntervalMsPerStream?: number;
  /** HTTP timeout of one try. Default: 30_000 ms. */
  readonly timeoutMs?: number;
  /** Default: node:timers/promises. Tests inject one that does not wait. */
  readonly sleep?: Sleep;
};

/**
 * Creates a sender that posts each message as multipart/form-data with the fields `message` and, when
 * given, `data` (SPEC `/v4/stream/{sid}/message/create`).
 *
 * Ordering: messages to one stream are sent one after another in `send` call order (the next starts when the
 * previous one was accepted or finally failed, plus `minIntervalMsPerStream`); other streams are never
 * delayed by it. Retries: 429 waits `Retry-After` (else backoff), 5xx and network errors back off with full
 * jitter, 401 re-authenticates the session once per try; at most `maxAttempts` tries. A retried network error
 * may post a message twice (the Agent API has no idempotency key). Each try first asks the send's `fence`
 * (SendOptions): a refusal ends the send with that error, not retried. Logs carry the streamId and the event
 * id, never the message text.
 *
 * @throws ChorusError CHORUS_ERR_REPLY_FAILED (the promise of `send` rejects; logged at error) when the
 *   message is refused (400 invalid MessageML, 403, 451 compliance…) or still fails after `maxAttempts`
 *   tries; the HttpError is the `cause`.
 * @throws RangeError at call time when `maxAttempts` is not a positive integer or `minIntervalMsPerStream`
 *   is negative.
 * @example
 * const sender = createAgentSender({ agentUrl, session, log, minIntervalMsPerStream: 500 });
 * await sender.send({ streamId, message: '<messageML>Hello</messageML>', inReplyTo: { eventId, type } });
 */
export function createAgentSender(options: AgentSenderOptions): ReplySender {
  const { session } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const minIntervalMs = options.minIntervalMsPerStream ?? 0;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new RangeError(`createAgentSender: maxAttempts must be a positive integer, got ${maxAttempts}`);
  }
  if (!(minIntervalMs >= 0)) {
    throw new RangeError(`createAgentSender: minIntervalMsPerStream must be >= 0, got ${minIntervalMs}`);
  }
  const http = options.http ?? createAgentHttp();
  const sleep = options.sleep ?? realSleep;
  const log = options.log.child({ component: 'reply' });
  // The pacing waits are never cancelled: a sender lives as long as the process.
  const never = new AbortController().signal;
  // Per stream: the tail of its queue (the last send, then its pacing gap). Deleted when the queue drains.
  const queues = new Map<string, Promise<void>>();
  const streamsUrl = joinUrl(options.agentUrl, '/agent/v4/stream/');
  const timeoutMs = options.timeoutMs ?? 30_000;

  const deliver = async (message: OutboundMessage, fence: SendOptions['fence']): Promise<void> => {
    const { streamId } = message;
    const fields = { streamId, eventId: message.inReplyTo.eventId };
    const url = `${streamsUrl}${encodeURIComponent(streamId)}/message/create`;
    const form = message.data === undefined ? { message: message.message } : { message: message.message, data: message.data };
    let refusal: Error | undefined;
    try {
      await withRetry(
        () => {
          refusal = fence?.();
          if (refusal !== undefined) throw refusal;
          return http.request({ method: 'POST', url, form, session, log, timeoutMs });
        },
        {
          retry: { ...options.retry, maxAttempts },
          sleep,
          signal: never,
          onRetry: (err, attempt, delayMs) =>
            log.warn({ ...fields, status: err.status, code: err.code, attempt, delayMs, err }, 'reply failed, retrying'),
        },
      );
    } catch (err) {
      if (err === refusal) {
        log.warn({ ...fields, err }, 'reply not sent: refused by its fence');
        throw err;
      }
      log.error({ ...fields, err }, 'reply not sent');
      const reason = isChorusError(err) ? err.message : String(err);
      throw new ChorusError('CHORUS_ERR_REPLY_FAILED', `reply to stream ${streamId} not sent: ${reason}`, { cause: err });
    }
  };

  return {
    send(message, sendOptions) {
      const previous = queues.get(message.streamId) ?? Promise.resolve();
      const sent = previous.then(() => deliver(message, sendOptions?.fence));
      const tail = sent
        .catch(() => undefined)
        .then(() => (minIntervalMs > 0 ? sleep(minIntervalMs, never) : undefined))
        .finally(() => {
          if (queues.get(message.streamId) === tail) queues.delete(message.streamId);
        });
      queues.set(message.streamId, tail);
      return sent;
    },
  };
}

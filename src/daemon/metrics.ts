/**
 * The daemon's Prometheus metrics (prom-client), in a registry of their own.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics the daemon exposes on `GET /metrics`. */
export type DaemonMetrics = {
  readonly registry: Registry;
  /** Events received from datafeed reads. */
  readonly eventsRead: Counter;
  /** Events by outcome status (handled, failed, requeued, duplicate, own, invalid, unsupported). */
  readonly eventsByStatus: Counter<'status'>;
  /** Replies sent, and replies that finally failed. */
  readonly repliesSent: Counter;
  readonly repliesFailed: Counter;
  /** Datafeed call failures by HTTP status (`network` for connection failures). */
  readonly datafeedErrors: Counter<'status'>;
  /**
   * Calls (datafeed, replies, sessioninfo) refused with HTTP 401 that re-authenticated the session, by outcome
   * (`ok`: new tokens, the call was sent again; `failed`: the authentication failed). Calls refused together
   * share one authentication but each counts. Fed by `createAgentHttp`'s `onReauthentication`.
   */
  readonly reauthentications: Counter<'outcome'>;
  /** Time from dispatch to the last listener's completion, in seconds. */
  readonly handlerSeconds: Histogram;
};

/** Creates the metrics, with Node's default process metrics (RSS, event-loop lag, GC) under `chorus_`. */
export function createDaemonMetrics(): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chorus_' });
  const registers = [registry];
  return {
    registry,
    eventsRead: new Counter({ name: 'chorus_events_read_total', help: 'Events received from datafeed reads', registers }),
    eventsByStatus: new Counter({
      name: 'chorus_events_total',
      help: 'Events by outcome status',
      labelNames: ['status'],
      registers,
    }),
    repliesSent: new Counter({ name: 'chorus_replies_sent_total', help: 'Replies sent', registers }),
    repliesFailed: new Counter({ name: 'chorus_replies_failed_total', help: 'Replies that finally failed', registers }),
    datafeedErrors: new Counter({
      name: 'chorus_datafeed_errors_total',
      help: 'Datafeed call failures by HTTP status',
      labelNames: ['status'],
      registers,
    }),
    reauthentications: new Counter({
      name: 'chorus_reauthentications_total',
      help: 'Calls refused with HTTP 401 that re-authenticated the session, by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    handlerSeconds: new Histogram({
      name: 'chorus_handler_duration_seconds',
      help: 'Time from dispatch to the last listener completing, per event',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}

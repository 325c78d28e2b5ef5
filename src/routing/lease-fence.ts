/**
 * The fence of a conversation lease: what runWithInbox knows locally of a lease it holds, and the sender that
 * refuses replies once that lease may be another instance's. An instance whose event loop stalled past its
 * lease, or whose renewal found the lease taken, must send nothing more for the conversation: the instance
 * that took it over handles the same event and replies itself.
 *
 * The deadline is local and monotonic (`performance.now()`, immune to wall-clock steps): the time a take or
 * renewal that succeeded was *issued* plus `leaseMs`. The backend starts the lease when it applies the call,
 * never before it was issued, so the local deadline is never later than the backend's (clock rates being
 * equal). Sends stop {@link LEASE_FENCE_MARGIN} of the lease before that deadline.
 *
 * Closing is for good: once the fence is closed (deadline passed, renewal refused, lease given up), no
 * renewal opens it again, since a renewal that lands after the lease lapsed may follow a whole takeover by
 * another instance (taken, handled, completed and given up) that the inbox cannot report.
 *
 * An overrun is not retried for ever: the take over a lease (lapsed, or this owner's after a restart) counts
 * an attempt on the entry its holder was handling (Inbox.lease; renewals, Inbox.renew, count nothing), and runWithInbox dead-letters an entry whose attempts are used up
 * ({@link toLeaseOverrun}) before running its listeners again.
 */
import type { Logger } from 'pino';
import { ChorusError } from '../errors.ts';
import type { ChorusEvent } from '../events/event.ts';
import type { OutboundMessage, ReplySender } from '../reply/reply-sender.ts';
import type { Inbox } from '../state/inbox.ts';
import type { EventOutcome } from './event-pipeline.ts';

/**
 * The share of `leaseMs` kept as a safety margin before the local deadline: sends are refused from
 * deadline − leaseMs × 0.1 on (3 s of the default 30 s lease). It covers a send that passed the fence just
 * before the deadline and is still on its way to the pod (its message-create round trip), and some drift
 * between this host's clock rate and the backend's. Another instance can take the conversation only after
 * the backend's expiry (then at its next sweep), so such a send lands before a takeover in the common case.
 * The reply sender asks the fence again before each of its tries (after queueing, pacing or a retry's
 * backoff); only a single try in flight for longer than the margin is not covered.
 */
export const LEASE_FENCE_MARGIN = 0.1;

/**
 * Where a fenced lease stands: `held` (sends pass); `expired` (the local deadline minus the margin passed:
 * the lease may have lapsed); `lost` (a renewal or a `complete` found it taken by another instance);
 * `released` (given up by this instance: the conversation's last event completed, or the run stopped).
 */
export type LeaseState = 'held' | 'expired' | 'lost' | 'released';

/**
 * One lease taken by runWithInbox, from its take until it is given up. Not shared between takes: a
 * conversation taken again gets a new fence.
 */
export class LeaseFence {
  readonly conversationId: string;
  readonly leaseMs: number;
  /** `leaseMs` × {@link LEASE_FENCE_MARGIN}, ms. */
  readonly marginMs: number;
  /** The monotonic clock, ms. */
  readonly now: () => number;
  /** When sends stop (`now()` scale), ms; −Infinity once closed for a known reason. */
  private closesAt: number;
  private closedAs: Exclude<LeaseState, 'held'> = 'expired';

  /**
   * A fence for a lease whose take was issued at `takenAt` (a `now()` reading taken before the `lease`
   * call) and succeeded.
   *
   * @param now the monotonic clock, ms. Default: `performance.now()`.
   */
  constructor(conversationId: string, leaseMs: number, takenAt: number, now: () => number = () => performance.now()) {
    this.conversationId = conversationId;
    this.leaseMs = leaseMs;
    this.marginMs = leaseMs * LEASE_FENCE_MARGIN;
    this.now = now;
    this.closesAt = takenAt + leaseMs - this.marginMs;
  }

  /** True while sends may go out: the lease is held and its local deadline minus the margin has not passed. */
  isOpen(): boolean {
    return this.now() < this.closesAt;
  }

  /** Where the lease stands now. */
  state(): LeaseState {
    return this.isOpen() ? 'held' : this.closedAs;
  }

  /**
   * Records the result of a renewal issued at `issuedAt` (a `now()` reading taken before the `lease` call):
   * the deadline moves to `issuedAt + leaseMs` when it `held` and the fence is still open; a renewal that
   * failed closes the fence as `lost`; one that succeeded after the fence closed opens nothing. Returns the
   * state after it.
   */
  renewed(issuedAt: number, held: boolean): LeaseState {
    if (!this.isOpen()) return this.close(this.closedAs);
    if (!held) return this.close('lost');
    this.closesAt = Math.max(this.closesAt, issuedAt + this.leaseMs - this.marginMs);
    return 'held';
  }

  /**
   * Closes the fence for good as `state`. A fence closed already keeps its reason (`expired` when its
   * deadline passed), except that a lease found `lost` is reported lost. Returns the state after it.
   */
  close(state: Exclude<LeaseState, 'held'>): LeaseState {
    if (this.isOpen() || state === 'lost') this.closedAs = state;
    this.closesAt = -Infinity;
    return this.closedAs;
  }

  /** The error a refused send rejects with: CHORUS_ERR_LEASE_LOST naming the conversation, event and state. */
  refusal(message: OutboundMessage): ChorusError {
    return new ChorusError(
      'CHORUS_ERR_LEASE_LOST',
      `reply to event ${message.inReplyTo.eventId} not sent: the lease of conversation ${this.conversationId} is ${this.state()}`,
    );
  }
}

/**
 * A sender that checks `fence` before every send, and hands the same check to `sender` for each of its
 * delivery attempts (SendOptions.fence: after its queueing, pacing and retry waits): while the fence is open,
 * or once `isDone()` (the event was completed by this instance, so no other instance handles it and a late
 * reply duplicates nothing), the message goes on; else the send rejects and nothing more is sent. The check
 * is a clock reading and a comparison, no I/O.
 *
 * @throws ChorusError CHORUS_ERR_LEASE_LOST (as the rejection) when the fence is closed and the event not done.
 */
export function createFencedSender(sender: ReplySender, fence: LeaseFence, isDone: () => boolean = () => false): ReplySender {
  return {
    send: (message) => {
      const check = (): ChorusError | undefined => (fence.isOpen() || isDone() ? undefined : fence.refusal(message));
      const refused = check();
      return refused === undefined ? sender.send(message, { fence: check }) : Promise.reject(refused);
    },
  };
}

/**
 * The outcome of an event not run again because its attempts were used up by handlings that overran the
 * conversation's lease (each counted by `Inbox.lease` when the lease was taken over): failed, with
 * CHORUS_ERR_LEASE_OVERRUN naming the event, the conversation and the attempts.
 */
export function toLeaseOverrun(event: ChorusEvent, conversationId: string, attempts: number): EventOutcome {
  const error = new ChorusError(
    'CHORUS_ERR_LEASE_OVERRUN',
    `event ${event.id} dead-lettered after ${attempts} attempts: its handling overran the lease of conversation ` +
      `${conversationId} (the instance stalled, stopped or crashed while handling it)`,
  );
  return { status: 'failed', eventId: event.id, eventType: event.type, conversationId, error };
}

/** What {@link startLeaseRenewer} needs. */
export type LeaseRenewerOptions = {
  readonly inbox: Pick<Inbox, 'renew'>;
  readonly owner: string;
  readonly leaseMs: number;
  /** The leases to renew, by conversation; a lease closed here is removed from it. */
  readonly leased: Map<string, LeaseFence>;
  readonly log: Logger;
  /** Called with a renewal's rejection (the inbox failed). */
  readonly fail: (err: unknown) => void;
};

/**
 * Renews the leases of `leased` together every `leaseMs / 3`, one `renew` call each, and stops when the
 * returned function is called. A fence found closed (its deadline passed: the event loop stalled) is not
 * renewed and leaves `leased` (logged at warn): renewing it could take again a lease another instance took
 * and gave up meanwhile. A renewal that resolves false closes its fence as `lost`, and one that succeeds
 * after the fence closed leaves it closed; either takes it out of `leased` (logged at warn, with the
 * conversationId) if still there.
 */
export function startLeaseRenewer(options: LeaseRenewerOptions): () => void {
  const { inbox, owner, leaseMs, leased, log } = options;
  const renewer = setInterval(() => {
    for (const [conversationId, fence] of leased) {
      if (!fence.isOpen()) {
        leased.delete(conversationId);
        log.warn({ conversationId, lease: fence.close('expired') }, 'conversation lease expired before its renewal');
        continue;
      }
      const issuedAt = fence.now();
      inbox.renew(conversationId, owner, leaseMs).then((held) => {
        const lease = fence.renewed(issuedAt, held);
        if (lease === 'held' || leased.get(conversationId) !== fence) return;
        leased.delete(conversationId);
        if (held) log.warn({ conversationId, lease }, 'conversation lease expired before its renewal');
        else log.warn({ conversationId, lease }, 'conversation lease lost at renewal: another instance has it');
      }, options.fail);
    }
  }, leaseMs / 3);
  return () => clearInterval(renewer);
}

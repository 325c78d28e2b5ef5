/**
 * The DatafeedSource port: where wire events come from. Adapters: the replay adapter (recorded feeds) and,
 * later, the Agent API adapter (datafeed v2 over undici).
 */
import type { Observable } from 'rxjs';

/** How a batch ended: `ack` advances the ackId; `requeue` keeps the previous one so the pod redelivers. */
export type BatchOutcome = 'ack' | 'requeue';

/**
 * One datafeed read: the wire events exactly as received (validated later, one by one) and the ackId that
 * acknowledges them (SPEC `V5EventList`).
 */
export type DatafeedBatch = {
  readonly events: readonly unknown[];
  readonly ackId: string;
  /**
   * Called once, after every event of the batch was handed over (handled, dead-lettered or dropped as a
   * duplicate), with `requeue` when any listener asked for redelivery. A live source sends the ackId on its
   * next read only after `ack` (reference §1.2); a replay source records it.
   */
  settle(outcome: BatchOutcome): void;
};

/**
 * A source of datafeed batches. `batches$` is lazy: subscribing opens the feed, unsubscribing closes it.
 * A recorded feed completes after its last batch; a live feed runs until unsubscribed.
 */
export type DatafeedSource = {
  readonly batches$: Observable<DatafeedBatch>;
};

/**
 * An in-memory DatafeedSource: batches given as arrays, for tests, fuzzing and benchmarks.
 */
import { defer, from } from 'rxjs';
import type { BatchOutcome, DatafeedSource } from './datafeed-source.ts';

/**
 * Creates a source that emits `batches` in order (each `{ events, ackId? }`; ackId defaults to
 * `memory-<n>`) and completes. `outcomes` records each batch's settlement.
 *
 * @example
 * const source = createMemorySource([{ events: [wireEvent1, wireEvent2] }]);
 */
export function createMemorySource(
  batches: readonly { readonly events: readonly unknown[]; readonly ackId?: string }[],
): DatafeedSource & { readonly outcomes: readonly { ackId: string; outcome: BatchOutcome }[] } {
  const outcomes: { ackId: string; outcome: BatchOutcome }[] = [];
  return {
    outcomes,
    batches$: defer(() =>
      from(
        batches.map((batch, index) => {
          const ackId = batch.ackId ?? `memory-${index + 1}`;
          return { events: batch.events, ackId, settle: (outcome: BatchOutcome) => void outcomes.push({ ackId, outcome }) };
        }),
      ),
    ),
  };
}

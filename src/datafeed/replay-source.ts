/**
 * The replay adapter of the DatafeedSource port: reads a recorded feed file and emits its batches.
 *
 * Formats, detected from the content (reference §1.1, §1.5, §2.1):
 * - JSON Lines of V4Event objects as the Agent API returns them; consecutive event lines are grouped into
 *   batches of `batchSize` events with synthetic ackIds;
 * - JSON Lines of datafeed read responses (`V5EventList`, `{"events": [...], "ackId": "..."}`), one batch a
 *   line; a DF v1 read response (a JSON array of V4Events) on a line is one batch too. Lines of the three
 *   kinds may be mixed; the order of events is kept;
 * - one JSON document over many lines (pretty-printed): a read response, an array of V4Events or a single
 *   V4Event, read as one batch.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Observable } from 'rxjs';
import { ChorusError, isChorusError } from '../errors.ts';
import type { BatchOutcome, DatafeedBatch, DatafeedSource } from './datafeed-source.ts';

/** Options of {@link createReplaySource}. */
export type ReplaySourceOptions = {
  /** Events per batch when the feed is JSON Lines of V4Events. Default: 100 (the DF v1 `limit` of the BDKs). */
  readonly batchSize?: number;
};

/** How one batch of a replay was settled. */
export type ReplayOutcome = { readonly ackId: string; readonly outcome: BatchOutcome };

/** A DatafeedSource over a feed file, recording how the pipeline settled each batch. */
export type ReplaySource = DatafeedSource & {
  /**
   * Every `settle` call, in call order (a batch settled twice shows twice). Kept across subscriptions: a
   * second subscription replays the feed and appends.
   */
  readonly outcomes: readonly ReplayOutcome[];
};

/**
 * Creates a DatafeedSource that replays the feed file at `path` (formats: see the module comment).
 *
 * `batches$` is lazy and cold: each subscription opens the file and reads it line by line (node:readline over
 * a read stream, so a large feed is never held whole, except a pretty-printed document); unsubscribing closes
 * it. It completes after the last batch. Events are not validated: each reaches the pipeline as parsed, so
 * that a malformed one can be dead-lettered there. Batches built from event lines get ackIds `replay-<n>`, n
 * the batch's position in the feed from 1; so does a read response without an ackId. `settle` appends to
 * `outcomes`.
 *
 * @throws RangeError when `batchSize` is not a positive integer (at call time).
 * @throws ChorusError CHORUS_ERR_FEED_INVALID through `batches$` (after the batches completed before the fault;
 *   events of an unfinished batch are not emitted) when the
 *   file cannot be read (message `<path>: cannot read the feed (<code>)`), or a line is not JSON, or holds
 *   JSON that is neither an event-like object (one with `type` or `payload`), nor a read response (an object
 *   with `events` or `ackId`, `events` an array or null, `ackId` a string), nor an array (message
 *   `<path>:<line>: <reason>`, the parse error as `cause`).
 * @example
 * const source = createReplaySource('test/fixtures/feeds/slash-commands.jsonl', { batchSize: 10 });
 * await lastValueFrom(pipeline.run(source));
 * expect(source.outcomes.every((o) => o.outcome === 'ack')).toBe(true);
 */
export function createReplaySource(path: string, options: ReplaySourceOptions = {}): ReplaySource {
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`createReplaySource: batchSize must be a positive integer, got ${batchSize}`);
  }
  const outcomes: ReplayOutcome[] = [];

  const batches$ = new Observable<DatafeedBatch>((subscriber) => {
    const input = createReadStream(path, { encoding: 'utf8' });
    const lines = createInterface({ input, crlfDelay: Infinity });
    const reader = createFeedReader(path, batchSize);
    let emitted = 0;
    const emit = (batches: readonly RawBatch[]): void => {
      for (const { events, ackId: recorded } of batches) {
        if (subscriber.closed) return;
        emitted += 1;
        const ackId = recorded ?? `replay-${emitted}`;
        subscriber.next({ events, ackId, settle: (outcome) => void outcomes.push({ ackId, outcome }) });
      }
    };

    const read = async (): Promise<void> => {
      for await (const line of lines) {
        emit(reader.push(line));
        if (subscriber.closed) return;
      }
      if (subscriber.closed) return;
      emit(reader.end());
      subscriber.complete();
    };
    read().catch((err: unknown) => {
      subscriber.error(
        isChorusError(err)
          ? err
          : new ChorusError('CHORUS_ERR_FEED_INVALID', `${path}: cannot read the feed (${errorCode(err)})`, {
              cause: err,
            }),
      );
    });

    return () => {
      lines.close();
      input.destroy();
    };
  });

  return { batches$, outcomes };
}

/** A batch as read from the file: its ackId when the feed recorded one. */
type RawBatch = { readonly events: readonly unknown[]; readonly ackId: string | undefined };

/**
 * The format detection and batching, fed one line at a time. `push` returns the batches a line completes;
 * `end` returns the rest. Both throw ChorusError CHORUS_ERR_FEED_INVALID.
 */
function createFeedReader(path: string, batchSize: number) {
  let lineNumber = 0;
  // 'start' until the first non-blank line; 'lines' for JSON Lines; 'document' for one multi-line document.
  let mode: 'start' | 'lines' | 'document' = 'start';
  let pending: unknown[] = [];
  const document: string[] = [];
  let documentLine = 0;

  const invalid = (line: number, reason: string, cause?: unknown): ChorusError =>
    new ChorusError('CHORUS_ERR_FEED_INVALID', `${path}:${line}: ${reason}`, { cause });

  const flush = (): RawBatch[] => {
    if (pending.length === 0) return [];
    const batch = { events: pending, ackId: undefined };
    pending = [];
    return [batch];
  };

  // One parsed JSON value of the feed: a batch of its own, or an event for the pending batch.
  const take = (value: unknown, line: number): RawBatch[] => {
    if (Array.isArray(value)) return [...flush(), { events: value, ackId: undefined }];
    if (typeof value !== 'object' || value === null) {
      throw invalid(line, 'not an object or an array (expected a V4Event or a datafeed read response)');
    }
    if (Object.hasOwn(value, 'events') || Object.hasOwn(value, 'ackId')) {
      const { events, ackId } = value as { events?: unknown; ackId?: unknown };
      if (events !== undefined && events !== null && !Array.isArray(events)) {
        throw invalid(line, 'read response: events is not an array');
      }
      if (ackId !== undefined && ackId !== null && typeof ackId !== 'string') {
        throw invalid(line, 'read response: ackId is not a string');
      }
      const recorded = typeof ackId === 'string' ? ackId : undefined;
      return [...flush(), { events: Array.isArray(events) ? events : [], ackId: recorded }];
    }
    if (Object.hasOwn(value, 'type') || Object.hasOwn(value, 'payload')) {
      pending.push(value);
      return pending.length >= batchSize ? flush() : [];
    }
    throw invalid(line, 'neither a V4Event (type, payload) nor a datafeed read response (events, ackId)');
  };

  return {
    push(raw: string): RawBatch[] {
      lineNumber += 1;
      const line = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (mode === 'document') {
        document.push(line);
        return [];
      }
      if (line.trim() === '') return [];
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        // A first line that opens an object or array but does not close it: a pretty-printed document.
        if (mode === 'start' && /^\s*[[{]/.test(line)) {
          mode = 'document';
          documentLine = lineNumber;
          document.push(line);
          return [];
        }
        throw invalid(lineNumber, 'not JSON', err);
      }
      mode = 'lines';
      return take(value, lineNumber);
    },
    end(): RawBatch[] {
      if (mode !== 'document') return flush();
      let value: unknown;
      try {
        value = JSON.parse(document.join('\n'));
      } catch (err) {
        throw invalid(documentLine, 'not JSON (a document starting on this line)', err);
      }
      return [...take(value, documentLine), ...flush()];
    },
  };
}

/** The `code` of a Node.js system error (`ENOENT`, `EISDIR`…), or `unknown`. */
function errorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'unknown';
}

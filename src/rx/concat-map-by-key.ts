/**
 * `concatMapByKey`: concatMap within a key, mergeMap across keys, with one concurrency cap over all keys.
 *
 * This is the per-conversation ordering operator of STYLE.md ("RxJS"). It is written as one custom operator
 * rather than `groupBy` + `mergeMap` because of two traps in rxjs 7.8 (both shown in the marble tests):
 * a concurrency cap on `mergeMap` over groups drops events (a GroupedObservable is hot: values pushed into a
 * group that `mergeMap` has buffered but not yet subscribed are lost), and expiring groups on arrival (a
 * `duration` selector) lets the next group of the same key start while the old one is still running.
 */
import { Observable, Subscription, from, takeWhile } from 'rxjs';
import type { ObservableInput, OperatorFunction } from 'rxjs';

/** Options of {@link concatMapByKey}. */
export type ConcatMapByKeyOptions = {
  /** Most inners running at once, over all keys: a positive integer or `Infinity`. Default: `Infinity`. */
  readonly concurrency?: number;
};

/** A value waiting for its turn; `seq` is its arrival number. Waiting values of a key form a linked list. */
type Waiting<T> = { readonly value: T; readonly seq: number; next: Waiting<T> | undefined };

/** Bookkeeping of one key: whether its inner runs, and its FIFO of waiting values. */
type KeyState<T> = { running: boolean; head: Waiting<T> | undefined; tail: Waiting<T> | undefined };

/** A key that may start its head value, ordered by that value's arrival number. */
type Ready = { readonly seq: number; readonly key: string };

/**
 * Projects each value to an inner Observable, one inner at a time per key, in arrival order within a key;
 * inners of different keys run concurrently, at most `concurrency` at once over all keys.
 *
 * - Order: the next value of a key is projected only after the previous inner of that key completed.
 * - Cap: when `concurrency` inners run, arriving values wait; as slots free up, the earliest-arrived waiting
 *   value whose key is idle starts next. Nothing is dropped, and a key never overtakes itself.
 * - Completion: after the source completed and every inner completed.
 * - Errors: an error of the source, of an inner, or thrown by `keyOf`/`project` errors the output and tears
 *   down everything else.
 * - Teardown: unsubscribing unsubscribes the source and every running inner; waiting values are discarded.
 * - Memory: a key's bookkeeping is deleted as soon as it has nothing running or waiting.
 * - Speed: an array returned by `project` is emitted and completed within the call, as `from(array)` would,
 *   but without a subscription; a value whose key is idle while nothing waits starts without being queued.
 *
 * @param keyOf - the ordering key of a value (a conversation id, for example).
 * @param project - the work for one value; a value is projected when its turn comes, not on arrival.
 * @param options - `concurrency` (default `Infinity`).
 * @throws RangeError when `concurrency` is not a positive integer or `Infinity` (a programming error, thrown
 *   at call time, not through the Observable).
 * @example
 * events$.pipe(
 *   concatMapByKey((event) => event.conversationId, (event) => defer(() => handle(event)), { concurrency: 16 }),
 * );
 */
export function concatMapByKey<T, R>(
  keyOf: (value: T) => string,
  project: (value: T) => ObservableInput<R>,
  options: ConcatMapByKeyOptions = {},
): OperatorFunction<T, R> {
  const concurrency = options.concurrency ?? Infinity;
  if (!(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency >= 1))) {
    throw new RangeError(`concatMapByKey: concurrency must be a positive integer or Infinity, got ${concurrency}`);
  }

  return (source) =>
    new Observable<R>((subscriber) => {
      const keys = new Map<string, KeyState<T>>();
      // Keys that are idle but have a waiting value: a min-heap on the arrival number of that value.
      const ready: Ready[] = [];
      const inners = new Set<Subscription>();
      let active = 0;
      let arrivals = 0;
      let sourceDone = false;
      let draining = false;

      // The key whose inner is being projected and run synchronously, and may have no KeyState: a value of it
      // arriving meanwhile (re-entrantly) must wait for it.
      let syncKey: string | undefined;

      // Starts waiting values while slots are free. Re-entrant calls (an inner completing synchronously, or a
      // value arriving from inside an inner) return at once: the loop running further up picks their work up,
      // so a long run of synchronous inners does not grow the stack.
      const drain = (): void => {
        if (draining) return;
        draining = true;
        while (!subscriber.closed && active < concurrency) {
          const next = heapPop(ready);
          if (next === undefined) break;
          const state = keys.get(next.key);
          const waiting = state?.head;
          if (state === undefined || waiting === undefined) continue; // unreachable: a ready key has a head
          state.head = waiting.next;
          if (state.head === undefined) state.tail = undefined;
          start(next.key, waiting.value);
        }
        draining = false;
        if (sourceDone && active === 0 && keys.size === 0 && !subscriber.closed) subscriber.complete();
      };

      // Projects `value` and runs its inner. The key has no inner running; its KeyState, if any, holds only
      // values that arrived later. Called with `draining` set, so that re-entrant arrivals only queue.
      const start = (key: string, value: T): void => {
        const queued = keys.get(key);
        if (queued !== undefined) queued.running = true;
        active += 1;
        const outerSyncKey = syncKey;
        syncKey = key;
        let inner: ObservableInput<R>;
        try {
          inner = project(value);
        } catch (err) {
          subscriber.error(err);
          return;
        } finally {
          syncKey = outerSyncKey;
        }
        if (Array.isArray(inner)) {
          // For speed: an array is an inner that emits its items and completes at once (as `from` would), so
          // it runs here without an Observable or a subscription, and its key needs no bookkeeping.
          for (const result of inner as R[]) {
            if (subscriber.closed) return;
            subscriber.next(result);
          }
          if (!subscriber.closed) finish(key);
          return;
        }
        let state = keys.get(key);
        if (state === undefined) {
          state = { running: true, head: undefined, tail: undefined };
          keys.set(key, state);
        }
        // Registered before subscribing: if the output is torn down while the inner is still in its subscribe
        // call, this wrapper is closed by then, and `add` unsubscribes the inner as soon as it returns.
        const innerSub = new Subscription();
        inners.add(innerSub);
        innerSub.add(
          // takeWhile stops a synchronous inner (an iterable, a range) once the output is closed: the teardown
          // cannot unsubscribe it, as its subscription is returned only when it is done.
          from(inner).pipe(takeWhile(() => !subscriber.closed)).subscribe({
            next: (result) => subscriber.next(result),
            error: (err: unknown) => subscriber.error(err),
            complete: () => {
              inners.delete(innerSub);
              if (subscriber.closed) return;
              finish(key);
              drain();
            },
          }),
        );
      };

      // The inner of `key` completed: its next waiting value becomes ready, or the key is forgotten.
      const finish = (key: string): void => {
        active -= 1;
        const state = keys.get(key);
        if (state === undefined) return;
        state.running = false;
        if (state.head === undefined) keys.delete(key);
        else heapPush(ready, { seq: state.head.seq, key });
      };

      const sourceSub = source.subscribe({
        next: (value) => {
          let key: string;
          try {
            key = keyOf(value);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          let state = keys.get(key);
          if (state === undefined) {
            if (!draining && active < concurrency && ready.length === 0 && !subscriber.closed) {
              // For speed: an idle key and nothing waiting anywhere, so this value is next in any order; it
              // starts at once, without being queued.
              draining = true;
              start(key, value);
              draining = false;
              drain();
              return;
            }
            state = { running: key === syncKey, head: undefined, tail: undefined };
            keys.set(key, state);
          }
          const waiting: Waiting<T> = { value, seq: arrivals, next: undefined };
          arrivals += 1;
          if (state.tail === undefined) {
            state.head = waiting;
            // The key's first waiting value: the key becomes ready unless its inner runs (then the inner's
            // completion makes it ready).
            if (!state.running) heapPush(ready, { seq: waiting.seq, key });
          } else {
            state.tail.next = waiting;
          }
          state.tail = waiting;
          drain();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          drain();
        },
      });

      return () => {
        sourceSub.unsubscribe();
        for (const inner of inners) inner.unsubscribe();
        inners.clear();
        keys.clear();
        ready.length = 0;
      };
    });
}

/** Adds `item` to the binary min-heap `heap` (ordered by `seq`). */
function heapPush(heap: Ready[], item: Ready): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const up = heap[parent];
    if (up === undefined || up.seq <= item.seq) break;
    heap[i] = up;
    i = parent;
  }
  heap[i] = item;
}

/** Removes and returns the item with the lowest `seq` of the binary min-heap `heap`. */
function heapPop(heap: Ready[]): Ready | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined || heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let child = left;
    const l = heap[left];
    const r = heap[right];
    if (l === undefined) break;
    if (r !== undefined && r.seq < l.seq) child = right;
    const smaller = heap[child];
    if (smaller === undefined || smaller.seq >= last.seq) break;
    heap[i] = smaller;
    i = child;
  }
  heap[i] = last;
  return top;
}

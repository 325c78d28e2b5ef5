/**
 * How every adapter makes `update` atomic: optimistic concurrency. Each stored value carries a version; an
 * update reads value and version, runs `fn` (which may await), and writes only if the version is unchanged
 * (compare-and-swap), else reads again and reruns `fn`. Nothing is locked while `fn` runs, so a slow or
 * hung `fn` never blocks other keys, other instances or the backend.
 *
 * Within one store instance, updates of one key also wait for each other (a per-key promise chain), so they
 * never conflict among themselves: compare-and-swap retries happen only when another instance, or a `set` /
 * `delete`, wrote the key meanwhile.
 *
 * After a lost compare-and-swap the update waits a random 0..min(2^attempt, 100) ms before it reads again
 * ("full jitter" backoff). Without it, two instances in lockstep starve one of them: the one whose write
 * is always scheduled first wins every round while it has updates queued.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChorusError } from '../errors.ts';
import { toJsonText, type JsonValue } from './json-value.ts';

/** After this many lost compare-and-swaps in a row an update gives up (CHORUS_ERR_STATE_CONFLICT). */
export const MAX_UPDATE_ATTEMPTS = 100;

/** The longest wait between two attempts of one update, ms. */
const MAX_BACKOFF_MS = 100;

/** A value as read for an update: `version` is `undefined` when there is no live value (absent or expired). */
export type VersionedValue<V> = { readonly value: JsonValue | undefined; readonly version: V | undefined };

/** The two backend operations an optimistic update needs. */
export type CompareAndSwap<V> = {
  /** The live value of `key` and its version. */
  read(key: string): Promise<VersionedValue<V>>;
  /**
   * Writes `text` under a new version, refreshing the TTL, if the live version of `key` is still `expected`
   * (`undefined`: still no live value). Resolves true when written, false when another write won.
   */
  write(key: string, expected: V | undefined, text: string): Promise<boolean>;
};

/** What {@link createOptimisticUpdate} returns. */
export type OptimisticUpdate = {
  /** `ConversationStore.update`, built on the adapter's compare-and-swap. */
  update<T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T>;
  /** Resolves once every update called so far has settled (for `close`). */
  readonly drained: () => Promise<void>;
};

/**
 * A fresh version for a write: a random integer in [1, 2^48). Random rather than counted, so a key deleted
 * and written again never gets back the version an update read before the delete (no ABA): a stale
 * compare-and-swap matches only with odds of 2^-48.
 */
export function newVersion(): number {
  return randomInt(1, 2 ** 48);
}

/**
 * Builds `update` from an adapter's compare-and-swap (see the module comment for the technique).
 *
 * @throws (from `update`) ChorusError CHORUS_ERR_STATE_VALUE when `fn` returns a value that is not JSON;
 *   CHORUS_ERR_STATE_CONFLICT after {@link MAX_UPDATE_ATTEMPTS} lost compare-and-swaps; what `fn` or the
 *   backend throws. Nothing is written in these cases.
 */
export function createOptimisticUpdate<V>(cas: CompareAndSwap<V>): OptimisticUpdate {
  const tails = new Map<string, Promise<void>>();
  const pending = new Set<Promise<void>>();

  const run = async <T>(key: string, fn: (current: T | undefined) => T | Promise<T>): Promise<T> => {
    for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt += 1) {
      const { value, version } = await cas.read(key);
      const next = await fn(value as T | undefined);
      if (await cas.write(key, version, toJsonText(next))) return next;
      await sleep(randomInt(0, Math.min(2 ** attempt, MAX_BACKOFF_MS) + 1));
    }
    throw new ChorusError(
      'CHORUS_ERR_STATE_CONFLICT',
      `state update of key ${key} lost its compare-and-swap ${MAX_UPDATE_ATTEMPTS} times in a row`,
    );
  };

  return {
    update(key, fn) {
      const result = (tails.get(key) ?? Promise.resolve()).then(() => run(key, fn));
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      pending.add(tail);
      void tail.then(() => {
        pending.delete(tail);
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    drained: async () => {
      await Promise.all(pending);
    },
  };
}

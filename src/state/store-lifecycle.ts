/**
 * The open/closed life of a store and its backend errors, shared by the adapters: after `close` is called
 * every operation rejects with CHORUS_ERR_STATE_UNAVAILABLE; `close` drains, then releases once.
 */
import { ChorusError, isChorusError } from '../errors.ts';

/** What {@link createStoreLifecycle} returns. */
export type StoreLifecycle = {
  /** @throws ChorusError CHORUS_ERR_STATE_UNAVAILABLE once `close` was called. */
  assertOpen(): void;
  /**
   * Runs `drain` then `release` on the first call; later calls return the same promise.
   */
  close(drain: () => Promise<void>, release: () => void | Promise<void>): Promise<void>;
};

/** Creates the lifecycle of one store; `name` (e.g. `sqlite var/state.db`) goes into messages. */
export function createStoreLifecycle(name: string): StoreLifecycle {
  let closing: Promise<void> | undefined;
  return {
    assertOpen() {
      if (closing !== undefined) {
        throw new ChorusError('CHORUS_ERR_STATE_UNAVAILABLE', `the ${name} conversation store is closed`);
      }
    },
    close(drain, release) {
      closing ??= (async () => {
        await drain();
        await release();
      })();
      return closing;
    },
  };
}

/**
 * Wraps a backend failure as CHORUS_ERR_STATE_UNAVAILABLE (with the failure as `cause`); a ChorusError
 * (e.g. CHORUS_ERR_STATE_VALUE) passes through unchanged.
 */
export function toStateError(err: unknown, name: string, operation: string): ChorusError {
  if (isChorusError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new ChorusError('CHORUS_ERR_STATE_UNAVAILABLE', `the ${name} conversation store failed to ${operation}: ${reason}`, {
    cause: err,
  });
}

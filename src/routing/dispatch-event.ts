/**
 * Dispatches one event to every registered pipeline and reports when all of them are done.
 */
import { isObservable } from 'rxjs';
import type { EventContext } from './listener.ts';
import type { Registration } from './create-bot.ts';
import { inEventScope } from './event-scope.ts';
import { isPromiseLike } from './run-handler.ts';

/** A listener pipeline that errored for an event. */
export type ListenerFailure = { readonly listener: string; readonly error: unknown };

/**
 * Subscribes every registration that accepts `ctx` (synchronously, inside the event scope, in registration
 * order, so pipelines of one event run concurrently; a registration with a direct `call` is called instead)
 * and reports the failures once all have completed or errored: at once, as an array, when every pipeline was
 * done by the end of its subscribe call (synchronous handlers; for speed, no promise is made), else as a
 * promise. Never throws or rejects: errors come back as failures, one per pipeline, and the other pipelines
 * go on.
 */
export function dispatchEvent(
  ctx: EventContext,
  registrations: readonly Registration[],
): readonly ListenerFailure[] | Promise<readonly ListenerFailure[]> {
  const tally = new Tally();
  inEventScope(ctx, () => {
    for (const registration of registrations) {
      if (registration.accepts !== undefined && !registration.accepts(ctx)) continue;
      tally.pending += 1;
      const observer = new PipelineObserver(tally, registration.listener);
      if (registration.call === undefined) registration.pipeline$.subscribe(observer);
      else follow(registration.call, ctx, observer);
    }
  });
  tally.pending -= 1;
  if (tally.pending === 0) return tally.failures;
  return new Promise((resolve) => {
    tally.resolve = resolve;
  });
}

/**
 * Runs a registration's direct `call` and reports to `observer` as subscribing its pipeline would: a throw or
 * a rejection is an error; a promise settles, an Observable completes or errors; any other value is done.
 */
function follow(call: (ctx: EventContext) => unknown, ctx: EventContext, observer: PipelineObserver): void {
  let result: unknown;
  try {
    result = call(ctx);
  } catch (err) {
    observer.error(err);
    return;
  }
  if (isObservable(result)) result.subscribe(observer);
  else if (isPromiseLike(result)) result.then(() => observer.complete(), (err: unknown) => observer.error(err));
  else observer.complete();
}

/** The pipelines of one dispatch still running, and their failures so far. */
class Tally {
  readonly failures: ListenerFailure[] = [];
  /** Held at 1 by `dispatchEvent` until every pipeline is subscribed. */
  pending = 1;
  /** Set once some pipeline outlived its subscribe call. */
  resolve: ((failures: readonly ListenerFailure[]) => void) | undefined = undefined;

  done(): void {
    this.pending -= 1;
    if (this.pending === 0) this.resolve?.(this.failures);
  }
}

/** Observes one pipeline of a dispatch (an object rather than closures: one allocation per pipeline). */
class PipelineObserver {
  readonly #tally: Tally;
  readonly #listener: string;

  constructor(tally: Tally, listener: string) {
    this.#tally = tally;
    this.#listener = listener;
  }

  error(error: unknown): void {
    this.#tally.failures.push({ listener: this.#listener, error });
    this.#tally.done();
  }

  complete(): void {
    this.#tally.done();
  }
}

/**
 * Dispatches one event to every registered pipeline and reports when all of them are done.
 */
import type { EventContext } from './listener.ts';
import type { Registration } from './create-bot.ts';
import { inEventScope } from './event-scope.ts';

/** A listener pipeline that errored for an event. */
export type ListenerFailure = { readonly listener: string; readonly error: unknown };

/**
 * Subscribes every registration that accepts `ctx` (synchronously, inside the event scope, in registration
 * order, so pipelines of one event run concurrently) and resolves when all have completed or errored.
 * Never rejects: errors come back as failures, one per pipeline, and the other pipelines go on.
 */
export function dispatchEvent(ctx: EventContext, registrations: readonly Registration[]): Promise<readonly ListenerFailure[]> {
  return new Promise((resolve) => {
    const failures: ListenerFailure[] = [];
    let pending = 1; // held by this function until every pipeline is subscribed
    const done = (): void => {
      pending -= 1;
      if (pending === 0) resolve(failures);
    };
    inEventScope(ctx, () => {
      for (const registration of registrations) {
        if (registration.accepts !== undefined && !registration.accepts(ctx)) continue;
        pending += 1;
        registration.pipeline$.subscribe({
          error: (error: unknown) => {
            failures.push({ listener: registration.listener, error });
            done();
          },
          complete: done,
        });
      }
    });
    done();
  });
}

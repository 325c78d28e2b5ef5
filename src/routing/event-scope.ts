/**
 * The event scope behind `bot.events$`, `bot.messages$` and `bot.mentions$`: chorus subscribes each
 * registered pipeline once per event, synchronously inside `inEventScope`, and the source streams emit that
 * event's context to the subscription made there, then complete.
 *
 * Subscription in RxJS reaches the source synchronously through ordinary operators, so a module-level
 * variable set for the duration of `subscribe` is enough; `subscribeOn`/`delay` before the source would defer
 * the subscription and fail loudly (the source errors) rather than see the wrong event.
 */
import { Observable } from 'rxjs';
import { ChorusError } from '../errors.ts';
import type { EventContext } from './listener.ts';

let current: EventContext | undefined;

/** Runs `fn` (which subscribes pipelines) with `ctx` as the event of the scope. */
export function inEventScope<R>(ctx: EventContext, fn: () => R): R {
  const previous = current;
  current = ctx;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/**
 * An Observable that, when subscribed inside an event scope, emits `select(ctx)` (unless undefined) and
 * completes.
 *
 * @throws ChorusError CHORUS_ERR_LISTENER_INVALID (as an Observable error) when subscribed outside a scope,
 * i.e. by the listener itself instead of through `bot.use`.
 */
export function createScopedSource<C>(select: (ctx: EventContext) => C | undefined): Observable<C> {
  return new Observable<C>((subscriber) => {
    if (current === undefined) {
      subscriber.error(
        new ChorusError(
          'CHORUS_ERR_LISTENER_INVALID',
          'bot.events$, messages$ and mentions$ are subscribed by chorus: pass your pipeline to bot.use()',
        ),
      );
      return;
    }
    const selected = select(current);
    if (selected !== undefined) subscriber.next(selected);
    subscriber.complete();
  });
}

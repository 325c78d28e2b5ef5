/**
 * Turns a handler call into an Observable that completes when the handler is done.
 */
import { from, isObservable, Observable } from 'rxjs';

/** True for a promise or any other thenable. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Calls `handler(ctx)` on subscription. A returned promise is awaited, a returned Observable is followed to
 * its completion, any other value completes at once. A throw or a rejection becomes the Observable's error.
 */
export function runHandler<C>(handler: (ctx: C) => unknown, ctx: C): Observable<unknown> {
  return new Observable<unknown>((subscriber) => {
    let result: unknown;
    try {
      result = handler(ctx);
    } catch (err) {
      subscriber.error(err);
      return undefined;
    }
    if (isObservable(result)) return result.subscribe(subscriber);
    if (isPromiseLike(result)) return from(result).subscribe(subscriber);
    subscriber.next(result);
    subscriber.complete();
    return undefined;
  });
}

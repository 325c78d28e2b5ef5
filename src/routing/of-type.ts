/**
 * `ofType`: narrows a stream of event contexts to some event types.
 */
import { filter, type OperatorFunction } from 'rxjs';
import type { EventType } from '../events/wire-schema.ts';
import type { EventContext } from './listener.ts';

/**
 * Keeps the contexts whose event type is one of `types`, typed by them.
 *
 * @example
 * bot.use(bot.events$.pipe(ofType('USERJOINEDROOM'), concatMap((ctx) => ctx.reply(`Welcome ${ctx.event.affectedUser.displayName}`))));
 */
export function ofType<T extends EventType>(...types: readonly T[]): OperatorFunction<EventContext, EventContext<T>> {
  const wanted = new Set<EventType>(types);
  // The cast states what the filter guarantees: TypeScript cannot relate a union narrowed by a generic `T`.
  return filter((ctx: EventContext) => wanted.has(ctx.type)) as unknown as OperatorFunction<EventContext, EventContext<T>>;
}

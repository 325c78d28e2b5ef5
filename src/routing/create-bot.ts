/**
 * Builds the `bot` object a listener's `setup` receives. Every handler method is sugar over the event streams:
 * it registers an Observable built from `events$`, `messages$` or `mentions$`, exactly what `bot.use` takes
 * (`bot.dialog` too, through dialog-routing.ts).
 */
import { concatMap, filter, map, type Observable } from 'rxjs';
import { ChorusError } from '../errors.ts';
import type { EventType } from '../events/wire-schema.ts';
import type { CommandRouter } from './command-router.ts';
import type { DialogFunction, DialogOptions } from './dialog.ts';
import { assertCommandAllowed, createDialogRegistrar, hasDialogs, unlessDialogAnswer } from './dialog-routing.ts';
import { createScopedSource } from './event-scope.ts';
import type { RoutedMessageContext } from './event-context.ts';
import { createMentionView } from './listener-view.ts';
import type {
  Bot,
  BotIdentity,
  CommandContext,
  CommandOptions,
  EventContext,
  Handler,
  MentionContext,
} from './listener.ts';
import { ofType } from './of-type.ts';
import { compilePattern } from './pattern.ts';
import { runHandler } from './run-handler.ts';

/**
 * A pipeline registered by a listener. `accepts` is a shortcut the dispatcher may take to skip subscribing
 * a pipeline that would emit nothing for this event; it never changes the outcome.
 */
export type Registration = {
  readonly listener: string;
  readonly pipeline$: Observable<unknown>;
  readonly accepts: ((ctx: EventContext) => boolean) | undefined;
  /**
   * For speed, on the handler methods' pipelines: what subscribing `pipeline$` does for an event that
   * `accepts`, as a direct call. It runs the work up to the handler and returns what `runHandler` would follow
   * (a promise or Observable to wait for; any other value is done at once), so the dispatcher makes no
   * Observable chain per event. Called inside the event scope, so returning `pipeline$` itself is allowed.
   */
  readonly call?: (ctx: EventContext) => unknown;
};

/** The event streams of one listener's `bot`. */
export type BotStreams = {
  readonly events$: Observable<EventContext>;
  readonly messages$: Observable<RoutedMessageContext>;
  readonly mentions$: Observable<RoutedMessageContext>;
  /** The listener's view of a context: what the streams emit. */
  readonly view: <C extends EventContext>(ctx: C) => C;
};

/**
 * Creates the streams of one listener's `bot`: each emits `view(ctx)`, the listener's view of the event.
 */
export function createBotStreams(view: <C extends EventContext>(ctx: C) => C): BotStreams {
  const asMessage = (ctx: EventContext): RoutedMessageContext | undefined =>
    ctx.type === 'MESSAGESENT' ? (ctx as RoutedMessageContext) : undefined;
  return {
    view,
    events$: createScopedSource((ctx) => view(ctx)),
    messages$: createScopedSource((ctx) => {
      const message = asMessage(ctx);
      return message === undefined ? undefined : view(message);
    }),
    mentions$: createScopedSource((ctx) => {
      const message = asMessage(ctx);
      return message?.mentionsBot === true ? view(message) : undefined;
    }),
  };
}

const isMessage = (ctx: EventContext): boolean => ctx.type === 'MESSAGESENT';

/**
 * Creates the `bot` of the listener named `listener`, registering into `registrations` and `router`.
 * `nextCommandId` numbers commands across listeners in registration order.
 */
export function createBot(options: {
  readonly listener: string;
  readonly identity: BotIdentity;
  readonly streams: BotStreams;
  readonly router: CommandRouter;
  readonly registrations: Registration[];
}): Bot {
  const { listener, identity, streams, router, registrations } = options;
  const register = (
    pipeline$: Observable<unknown>,
    accepts?: (ctx: EventContext) => boolean,
    call?: (ctx: EventContext) => unknown,
  ): void => {
    registrations.push(call === undefined ? { listener, pipeline$, accepts } : { listener, pipeline$, accepts, call });
  };

  function command<P extends string>(
    pattern: P,
    optionsOrHandler: CommandOptions | Handler<CommandContext>,
    maybeHandler?: Handler<CommandContext>,
  ): void {
    const handler = typeof optionsOrHandler === 'function' ? optionsOrHandler : maybeHandler;
    if (typeof handler !== 'function') {
      throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `listener ${listener}: command ${pattern} has no handler`);
    }
    const commandOptions = typeof optionsOrHandler === 'function' ? {} : optionsOrHandler;
    const compiled = compilePattern(pattern);
    assertCommandAllowed(router, compiled, listener);
    const id = router.entries.length;
    router.add({ id, listener, pattern: compiled, options: commandOptions });
    const matches = (ctx: RoutedMessageContext): boolean => ctx.command?.entryId === id;
    register(
      streams.messages$.pipe(
        filter(matches),
        concatMap((ctx) => runHandler(handler, ctx as unknown as CommandContext)),
      ),
      (ctx) => isMessage(ctx) && matches(ctx as RoutedMessageContext),
      (ctx) => handler(streams.view(ctx) as unknown as CommandContext),
    );
  }

  function mention(patternOrHandler: RegExp | Handler<MentionContext>, maybeHandler?: Handler<MentionContext>): void {
    const pattern = patternOrHandler instanceof RegExp ? patternOrHandler : undefined;
    const handler = pattern === undefined ? patternOrHandler : maybeHandler;
    if (typeof handler !== 'function') {
      throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `listener ${listener}: mention needs a handler`);
    }
    const uncommanded = (ctx: RoutedMessageContext): boolean => ctx.command === undefined;
    const toMention = (ctx: RoutedMessageContext): MentionContext | undefined => {
      if (pattern !== undefined) pattern.lastIndex = 0; // a /g or /y pattern must not carry state between events
      const match = pattern?.exec(ctx.prompt);
      if (match === null) return undefined;
      return createMentionView(ctx, match);
    };
    const pipeline$ = streams.mentions$.pipe(
      filter(uncommanded),
      concatMap((ctx) => unlessDialogAnswer(router, ctx)), // a dialog's answer is not also a mention
      map(toMention),
      filter((ctx): ctx is MentionContext => ctx !== undefined),
      concatMap((ctx) => runHandler(handler, ctx)),
    );
    register(
      pipeline$,
      (ctx) => isMessage(ctx) && (ctx as RoutedMessageContext).mentionsBot && uncommanded(ctx as RoutedMessageContext),
      (ctx) => {
        if (hasDialogs(router)) return pipeline$; // whether it answers a dialog is read from the store
        const mention = toMention(streams.view(ctx as RoutedMessageContext));
        return mention === undefined ? undefined : handler(mention);
      },
    );
  }

  const dialogs = createDialogRegistrar({ listener, streams, router, registrations });
  function dialog<P extends string>(
    pattern: P,
    optionsOrRun: DialogOptions | DialogFunction<never>,
    maybeRun?: DialogFunction<never>,
  ): void {
    const run = typeof optionsOrRun === 'function' ? optionsOrRun : maybeRun;
    if (typeof run !== 'function') {
      throw new ChorusError('CHORUS_ERR_LISTENER_INVALID', `listener ${listener}: dialog ${pattern} has no function`);
    }
    dialogs.add(pattern, typeof optionsOrRun === 'function' ? {} : optionsOrRun, run);
  }

  return {
    identity,
    events$: streams.events$,
    messages$: streams.messages$,
    mentions$: streams.mentions$,
    command,
    mention,
    dialog,
    on<T extends EventType>(type: T, handler: Handler<EventContext<T>>): void {
      register(
        streams.events$.pipe(
          ofType(type),
          concatMap((ctx) => runHandler(handler, ctx)),
        ),
        (ctx) => ctx.type === type,
        (ctx) => handler(streams.view(ctx) as EventContext<T>), // accepts checked the type
      );
    },
    use(pipeline$: Observable<unknown>): void {
      register(pipeline$);
    },
  };
}

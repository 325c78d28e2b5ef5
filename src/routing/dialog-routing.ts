/**
 * How dialogs are routed, all through the same router and registrations as `bot.command`: each dialog's start
 * is a command (listed by `/help`, `requireMention` as for commands); each listener with dialogs has one
 * pipeline that takes its users' plain messages as answers; and `/cancel` is a built-in command, registered
 * once with the first dialog.
 *
 * A user has at most one dialog per conversation, whichever listener runs it (`dialogStateKey`). Every
 * pipeline decides on the dialog as it was before the event (`readDialog`), and for each event exactly one of
 * them writes it: the start command, `/cancel`, or the answering listener.
 */
import { concatMap, defer, filter, map, of, type Observable } from 'rxjs';
import { ChorusError } from '../errors.ts';
import type { CommandRouter } from './command-router.ts';
import type { BotStreams, Registration } from './create-bot.ts';
import { DEFAULT_DIALOG_TIMEOUT_MS, type DialogFunction, type DialogOptions } from './dialog.ts';
import { endDialog, isExpired, readDialog, type DialogRecord } from './dialog-record.ts';
import { runDialog, type DialogDefinition } from './dialog-runner.ts';
import type { RoutedMessageContext } from './event-context.ts';
import type { EventContext } from './listener.ts';
import { compilePattern, type CompiledPattern } from './pattern.ts';

/** The built-in command that ends the user's dialog in the stream. */
export const CANCEL_COMMAND = '/cancel';

/** The listener name `/cancel` failures are reported under. */
const CANCEL_LISTENER = 'chorus:dialog';

/** What the dialogs of one bot (every listener: one router) share. */
type DialogHub = {
  readonly cancelEntryId: number;
  /** Router entry ids of the dialogs' start commands. */
  readonly starts: Set<number>;
  /** Listeners that registered a dialog. */
  readonly listeners: Set<string>;
};

// The router is the one object every listener's bot shares, so it keys what their dialogs share.
const hubs = new WeakMap<CommandRouter, DialogHub>();

const isPlainCancel = (pattern: CompiledPattern): boolean => pattern.name === CANCEL_COMMAND && pattern.tokens.length === 0;

const isMessage = (ctx: EventContext): boolean => ctx.type === 'MESSAGESENT';

/**
 * Refuses a `bot.command('/cancel')` once dialogs exist: `/cancel` is theirs.
 * @throws ChorusError CHORUS_ERR_LISTENER_INVALID naming the listener.
 */
export function assertCommandAllowed(router: CommandRouter, pattern: CompiledPattern, listener: string): void {
  if (hubs.has(router) && isPlainCancel(pattern)) {
    throw new ChorusError(
      'CHORUS_ERR_LISTENER_INVALID',
      `listener ${listener}: ${CANCEL_COMMAND} is the built-in command that ends dialogs`,
    );
  }
}

/**
 * A message is a `/cancel` of dialogs when it is the built-in command, or `/cancel` alone where the command
 * needs a mention (in a room, a user in a dialog ends it without @mentioning the bot, as they answer).
 */
function isCancel(view: RoutedMessageContext, hub: DialogHub): boolean {
  return view.command === undefined ? view.prompt === CANCEL_COMMAND : view.command.entryId === hub.cancelEntryId;
}

/** True while `record` is a dialog some listener answers and it has not timed out. */
function isLive(record: DialogRecord | undefined, hub: DialogHub, now: number): boolean {
  return record !== undefined && hub.listeners.has(record.listener) && !isExpired(record, now);
}

/** True once some listener of the bot whose router is `router` registered a dialog. */
export function hasDialogs(router: CommandRouter): boolean {
  return hubs.has(router);
}

/**
 * `view`, unless the message answers a live dialog of its user: the `bot.mention` fallback uses it so that an
 * answer that @mentions the bot is not also taken as a mention. Synchronous `of(view)` while no dialog exists.
 */
export function unlessDialogAnswer(router: CommandRouter, view: RoutedMessageContext): Observable<RoutedMessageContext> {
  const hub = hubs.get(router);
  if (hub === undefined) return of(view);
  return defer(() => readDialog(view)).pipe(
    filter((record) => !isLive(record, hub, view.event.timestamp)),
    map(() => view),
  );
}

/** Registers the dialogs of one listener's bot. */
export type DialogRegistrar = {
  /**
   * Registers a dialog started by the command `pattern`.
   * @throws ChorusError CHORUS_ERR_PATTERN_INVALID for a bad pattern; CHORUS_ERR_LISTENER_INVALID for a
   * `/cancel` pattern, a pattern this listener already has a dialog for, a bad `timeoutMs`, or when a plain
   * `/cancel` command was registered before.
   */
  add(pattern: string, options: DialogOptions, run: DialogFunction<never>): void;
};

/** Creates the dialog registrar of the listener `listener`. Registers nothing until the first dialog. */
export function createDialogRegistrar(options: {
  readonly listener: string;
  readonly streams: BotStreams;
  readonly router: CommandRouter;
  readonly registrations: Registration[];
}): DialogRegistrar {
  const { listener, streams, router, registrations } = options;
  const definitions = new Map<string, DialogDefinition>();
  const invalid = (what: string): ChorusError => new ChorusError('CHORUS_ERR_LISTENER_INVALID', `listener ${listener}: ${what}`);

  const assertCancelFree = (): void => {
    const taken = hubs.has(router) ? undefined : router.entries.find((entry) => isPlainCancel(entry.pattern));
    if (taken !== undefined) {
      throw invalid(`dialogs need the built-in ${CANCEL_COMMAND}, but listener ${taken.listener} registered its own`);
    }
  };

  // Made with the first dialog of any listener, after its start command, so /help lists /cancel after it.
  const hubOf = (): DialogHub => {
    const known = hubs.get(router);
    if (known !== undefined) return known;
    const hub: DialogHub = { cancelEntryId: router.entries.length, starts: new Set(), listeners: new Set() };
    router.add({
      id: hub.cancelEntryId,
      listener: CANCEL_LISTENER,
      pattern: compilePattern(CANCEL_COMMAND),
      options: { description: 'Cancel your dialog in this conversation' },
    });
    registrations.push({
      listener: CANCEL_LISTENER,
      pipeline$: streams.messages$.pipe(
        filter((view) => isCancel(view, hub)),
        concatMap((view) => defer(() => cancel(view))),
      ),
      accepts: (ctx) => isMessage(ctx) && isCancel(ctx as RoutedMessageContext, hub),
    });
    hubs.set(router, hub);
    return hub;
  };

  const answer = async (view: RoutedMessageContext, hub: DialogHub): Promise<void> => {
    const record = await readDialog(view);
    if (record === undefined || record.listener !== listener || isCancel(view, hub)) return;
    if (isExpired(record, view.event.timestamp)) {
      if (view.command !== undefined && hub.starts.has(view.command.entryId)) return; // the start tells
      await endDialog(view, record.id);
      await view.reply(`Your ${record.name} dialog timed out.`);
      return;
    }
    if (view.command !== undefined) return; // other commands still work mid-dialog
    const definition = definitions.get(record.pattern);
    if (definition === undefined) {
      view.log.warn({ dialog: record.pattern }, 'stored dialog is no longer registered; ended');
      await endDialog(view, record.id);
      await view.reply(`Your ${record.name} dialog is no longer available.`);
      return;
    }
    const redelivered = record.lastMessageId === view.message.messageId;
    await runDialog({ view, definition, record, answer: redelivered ? undefined : view.prompt });
  };

  const start = async (view: RoutedMessageContext, definition: DialogDefinition): Promise<void> => {
    const now = view.event.timestamp;
    const current = await readDialog(view);
    const same = current?.listener === listener && current.pattern === definition.pattern.source;
    if (same && current.lastMessageId === view.message.messageId) {
      await runDialog({ view, definition, record: current, answer: undefined }); // a redelivered start resumes
      return;
    }
    if (current !== undefined) {
      if (isExpired(current, now)) await view.reply(`Your ${current.name} dialog timed out.`);
      else if (same) await view.reply(`Restarting your ${current.name} dialog.`);
      else await view.reply(`Cancelled your ${current.name} dialog.`);
    }
    const record: DialogRecord = {
      v: 1,
      id: view.message.messageId,
      listener,
      pattern: definition.pattern.source,
      name: definition.pattern.name,
      args: view.args ?? {},
      steps: [],
      answers: [],
      results: [],
      sent: 0,
      startedAt: now,
      lastActivityAt: now,
      timeoutMs: definition.timeoutMs,
      lastMessageId: view.message.messageId,
    };
    await view.dialogState.set(record);
    await runDialog({ view, definition, record, answer: undefined });
  };

  return {
    add(pattern, dialogOptions, run) {
      const compiled = compilePattern(pattern);
      if (compiled.name === CANCEL_COMMAND) throw invalid(`a dialog cannot start with ${CANCEL_COMMAND}`);
      if (definitions.has(compiled.source)) throw invalid(`two dialogs start with ${compiled.source}`);
      const { timeoutMs = DEFAULT_DIALOG_TIMEOUT_MS, ...commandOptions } = dialogOptions;
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
        throw invalid(`dialog ${compiled.source}: timeoutMs must be a positive integer (ms), got ${timeoutMs}`);
      }
      assertCancelFree();
      const id = router.entries.length;
      router.add({ id, listener, pattern: compiled, options: commandOptions });
      const hub = hubOf();
      hub.starts.add(id);
      const definition: DialogDefinition = { listener, pattern: compiled, timeoutMs, run };
      if (definitions.size === 0) {
        hub.listeners.add(listener);
        registrations.push({
          listener,
          pipeline$: streams.messages$.pipe(concatMap((view) => defer(() => answer(view, hub)))),
          accepts: isMessage,
        });
      }
      definitions.set(compiled.source, definition);
      const starts = (view: RoutedMessageContext): boolean => view.command?.entryId === id;
      registrations.push({
        listener,
        pipeline$: streams.messages$.pipe(
          filter(starts),
          concatMap((view) => defer(() => start(view, definition))),
        ),
        accepts: (ctx) => isMessage(ctx) && starts(ctx as RoutedMessageContext),
      });
    },
  };
}

async function cancel(view: RoutedMessageContext): Promise<void> {
  const record = await readDialog(view);
  if (record === undefined) {
    if (view.command !== undefined) await view.reply('You have no dialog to cancel.');
    return; // `/cancel` typed in a room by someone without a dialog is just text
  }
  await endDialog(view, record.id);
  const expired = isExpired(record, view.event.timestamp);
  await view.reply(expired ? `Your ${record.name} dialog timed out.` : `Cancelled your ${record.name} dialog.`);
}

/**
 * `chorus/testing`: what listener authors import in their tests. The second public entry point beside
 * src/index.ts (package.json "exports"), kept apart so the runtime never loads test helpers.
 */
export * from './factories.ts';
export { messageMLToText } from './messageml-to-text.ts';
export { replay, runReplay, type Reply, type ReplayFeed, type ReplayOptions, type ReplayReport } from './replay.ts';
export type { EventOutcome, EventStatus } from '../routing/event-pipeline.ts';
export type { DeadLetter } from '../routing/dead-letters.ts';
export { createMemoryStore } from '../state/memory-store.ts';
export { conversationStateKey, dialogStateKey, userStateKey } from '../routing/event-context.ts';

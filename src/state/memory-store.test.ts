import { describeConversationStore } from '../../test/state/describe-conversation-store.ts';
import { createMemoryStore } from './memory-store.ts';

describeConversationStore('memory', createMemoryStore);

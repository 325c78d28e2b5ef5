import { describeConversationStore } from '../../test/state/describe-conversation-store.ts';
import { createMemoryStore } from './memory-store.ts';

// Memory instances share nothing, so the two-instance cases do not apply (no makeSecondInstance).
describeConversationStore('memory', (options) => createMemoryStore(options), { clock: 'injected' });

/**
 * The reply port: where outgoing messages go. Adapters: the replay collector (src/testing) and, later, the
 * Agent API sender (`POST /agent/v4/stream/{sid}/message/create`).
 */

/** An outgoing message, ready for the Agent API message-create call (SPEC `/v4/stream/{sid}/message/create`). */
export type OutboundMessage = {
  readonly streamId: string;
  /** The whole message, `<messageML>…</messageML>`. */
  readonly message: string;
  /** EntityJSON as a JSON string, when the message references `data-entity-id`s. */
  readonly data?: string;
  /** The event this message answers. */
  readonly inReplyTo: { readonly eventId: string; readonly type: string };
};

/**
 * Sends outgoing messages. `send` resolves once the message is accepted (or, for a collector, recorded) and
 * rejects when it finally could not be sent; retries are the adapter's business.
 */
export type ReplySender = {
  send(message: OutboundMessage): Promise<void>;
};

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

/** Options of one send. */
export type SendOptions = {
  /**
   * Asked right before each delivery attempt, after whatever waited first (the stream's queue, pacing, a
   * retry's backoff): an error returned stops the send, which rejects with that error as it is, and nothing
   * more of it is sent. The durable inbox passes its conversation lease's fence (CHORUS_ERR_LEASE_LOST).
   * Default: none.
   */
  readonly fence?: () => Error | undefined;
};

/**
 * Sends outgoing messages. `send` resolves once the message is accepted (or, for a collector, recorded) and
 * rejects when it finally could not be sent; retries are the adapter's business, and each attempt asks
 * `options.fence` first.
 */
export type ReplySender = {
  send(message: OutboundMessage, options?: SendOptions): Promise<void>;
};

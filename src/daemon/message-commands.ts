/**
 * `chorus say` and `chorus messages`: post to and read a stream as a user, through the Agent API (the real
 * authentication and endpoints), against the embedded pod or any pod.
 */
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { z } from 'zod';
import { joinUrl } from '../datafeed/agent-http.ts';
import { openUserSession } from './user-session.ts';

/** Who speaks or reads, and where. */
export type StreamCommandOptions = {
  readonly podUrl: string;
  readonly streamId: string;
  readonly username: string;
  readonly keyPath: string | undefined;
  readonly keysDir: string;
  readonly log: Logger;
  readonly stdout: Writable;
};

const sentSchema = z.looseObject({ messageId: z.string() });

/**
 * Posts `message` (MessageML, or plain text the pod wraps) to the stream as the user
 * (`POST /agent/v4/stream/{sid}/message/create`) and prints the created message as one JSON line.
 */
export async function sayCommand(options: StreamCommandOptions & { readonly message: string }): Promise<void> {
  const { session, http } = openUserSession(options);
  try {
    const sent = await http.request({
      method: 'POST',
      url: joinUrl(options.podUrl, `/agent/v4/stream/${encodeURIComponent(options.streamId)}/message/create`),
      form: { message: options.message },
      session,
      schema: sentSchema,
    });
    options.stdout.write(`${JSON.stringify(sent)}\n`);
  } finally {
    await http.close();
  }
}

/**
 * Prints the stream's messages, oldest first, one V4Message JSON object a line
 * (`GET /agent/v4/stream/{sid}/message?since=0`; at most `limit`, default 500, the spec's maximum).
 */
export async function messagesCommand(options: StreamCommandOptions & { readonly limit?: number }): Promise<void> {
  const { session, http } = openUserSession(options);
  try {
    const query = `since=0&limit=${options.limit ?? 500}`;
    const messages = await http.request({
      method: 'GET',
      url: joinUrl(options.podUrl, `/agent/v4/stream/${encodeURIComponent(options.streamId)}/message?${query}`),
      session,
      schema: z.array(z.looseObject({ messageId: z.string() })).optional(), // 204 (no messages) has no body
    });
    for (const message of messages ?? []) options.stdout.write(`${JSON.stringify(message)}\n`);
  } finally {
    await http.close();
  }
}

/**
 * The schemas the embedded pod's options share with the configuration's `embeddedPod` (config-schema.ts):
 * users, streams, the Agent, and their cross-checks. zod only: the configuration loads this file, and a daemon
 * connected to a real pod loads nothing else of src/pod/.
 */
import { z } from 'zod';

const USER_ID = /^\d+$/;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;
const STREAM_ID = /^[A-Za-z0-9_-]+$/;

/** A user: `PodUserOptions` (pod-config.ts), and the configuration's `embeddedPod.users`. */
export const podUserSchema = z.strictObject({
  userId: z
    .string()
    .regex(USER_ID, 'must be a string of digits')
    .refine((id) => Number.isSafeInteger(Number(id)), 'must fit a safe integer'),
  username: z.string().max(128).regex(USERNAME, 'must be letters, digits and ._@+- (not starting with one)'),
  displayName: z.string().min(1),
  email: z.string().min(3).optional(),
  publicKeyPem: z.string().min(1).optional(),
});

/** A stream: `PodStreamOptions` (pod-config.ts), and the configuration's `embeddedPod.streams`. */
export const podStreamSchema = z.strictObject({
  streamId: z.string().max(200).regex(STREAM_ID, 'must be URL-safe: letters, digits, _ and -'),
  streamType: z.enum(['IM', 'MIM', 'ROOM']),
  roomName: z.string().min(1).optional(),
  members: z.array(z.string()).min(1),
});

/** The Agent, defaults applied: `PodAgentOptions` (pod-config.ts), and the configuration's `embeddedPod.agent`. */
export const podAgentSchema = z.strictObject({
  version: z.string().min(1).default('Agent-25.12.0-chorus-embedded'),
  simplifiedKeyDelivery: z.boolean().default(false),
});

/**
 * The pod's cross-checks, as issues at their paths: user ids and usernames are unique, stream ids are unique,
 * every member of a stream is a user, once, and an IM has exactly 2 members. For `superRefine`.
 */
export function checkUsersAndStreams(
  pod: {
    readonly users: readonly { readonly userId: string; readonly username: string }[];
    readonly streams: readonly { readonly streamId: string; readonly streamType: string; readonly members: readonly string[] }[];
  },
  ctx: z.RefinementCtx,
): void {
  const userIds = new Set<string>();
  const usernames = new Set<string>();
  pod.users.forEach((user, i) => {
    if (userIds.has(user.userId)) {
      ctx.addIssue({ code: 'custom', path: ['users', i, 'userId'], message: 'duplicate' });
    }
    if (usernames.has(user.username)) {
      ctx.addIssue({ code: 'custom', path: ['users', i, 'username'], message: 'duplicate' });
    }
    userIds.add(user.userId);
    usernames.add(user.username);
  });
  const streamIds = new Set<string>();
  pod.streams.forEach((stream, i) => {
    if (streamIds.has(stream.streamId)) {
      ctx.addIssue({ code: 'custom', path: ['streams', i, 'streamId'], message: 'duplicate' });
    }
    streamIds.add(stream.streamId);
    stream.members.forEach((member, j) => {
      if (!userIds.has(member)) {
        ctx.addIssue({ code: 'custom', path: ['streams', i, 'members', j], message: `unknown user id ${member}` });
      }
    });
    if (new Set(stream.members).size !== stream.members.length) {
      ctx.addIssue({ code: 'custom', path: ['streams', i, 'members'], message: 'duplicate member' });
    }
    if (stream.streamType === 'IM' && stream.members.length !== 2) {
      ctx.addIssue({ code: 'custom', path: ['streams', i, 'members'], message: 'an IM has exactly 2 members' });
    }
  });
}

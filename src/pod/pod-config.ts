/**
 * The embedded pod's options: their types, zod schema and defaults. The users', streams' and Agent's schemas
 * and their cross-checks (unique ids, stream members that exist) are in pod-schemas.ts, which the
 * configuration's `embeddedPod` shares.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { ChorusError } from '../errors.ts';
import { faultOptionsSchema, type FaultOptions } from './faults.ts';
import { checkUsersAndStreams, podAgentSchema, podStreamSchema, podUserSchema } from './pod-schemas.ts';
import type { WireV4Message } from './stream-messages.ts';

/** A user of the pod: a bot (service account) or a person. */
export type PodUserOptions = {
  /** Symphony user id: digits within a safe integer (the wire's int64 is a JSON number). */
  readonly userId: string;
  /** Login name, the JWT `sub` claim (reference §3.4). Letters, digits and `._@+-`; names the key file. */
  readonly username: string;
  readonly displayName: string;
  /** Default: `<username>@example.com`. */
  readonly email?: string | undefined;
  /** The RSA public key (PEM, SPKI or PKCS#1). Without it the pod generates a key pair for the user. */
  readonly publicKeyPem?: string;
};

/** A conversation of the pod. */
export type PodStreamOptions = {
  /** URL-safe: letters, digits, `_` and `-` (stream ids are URL-safe base64 in the Agent API, reference §2.2). */
  readonly streamId: string;
  readonly streamType: 'IM' | 'MIM' | 'ROOM';
  /** Shown on room events. Default: none. */
  readonly roomName?: string | undefined;
  /** User ids of the members (at least one; an IM has exactly two). */
  readonly members: readonly string[];
};

/** Datafeed v2 limits and timeouts (reference §1.2, §1.4). */
export type PodDatafeedOptions = {
  /** Un-acked events are re-queued after this, ms. Default: 30_000. */
  readonly visibilityTimeoutMs?: number;
  /** A read with nothing to deliver waits this long before answering `{ events: [] }`, ms. Default: 30_000. */
  readonly pollTimeoutMs?: number;
  /** A feed not read for this long expires, ms. Default: 1_800_000 (30 min). */
  readonly ttlMs?: number;
  /** At most this many events per read. Default: 100. */
  readonly maxEventsPerRead?: number;
  /** Creating a feed beyond this many live feeds of a user answers 403. Default: 20. */
  readonly maxFeedsPerUser?: number;
};

/** What the pod's Agent says of itself, and whether the pod offers Simplified Key Delivery. */
export type PodAgentOptions = {
  /** AgentInfo.version at `GET /agent/v1/info`. Default: `Agent-25.12.0-chorus-embedded`. */
  readonly version?: string | undefined;
  /**
   * Simplified Key Delivery (reference §3.4): session tokens are JWT-shaped with the claim
   * `canUseSimplifiedKeyDelivery: true`, and their Agent calls need no key manager token. Default: false (the
   * pod then issues opaque tokens and wants both, as before SKD).
   */
  readonly simplifiedKeyDelivery?: boolean | undefined;
};

/** Options of `createEmbeddedPod`. */
export type EmbeddedPodOptions = {
  /** TCP port; 0 picks an ephemeral one. Default: 0. */
  readonly port?: number;
  /** The pod only listens on loopback. Default: `127.0.0.1`. */
  readonly host?: '127.0.0.1';
  readonly users: readonly PodUserOptions[];
  /** Default: none. */
  readonly streams?: readonly PodStreamOptions[];
  /** Where generated private keys are written as `<keysDir>/<username>.pem` (mode 0600) and read back on the
   * next start. Default: none (generated keys live in memory only). */
  readonly keysDir?: string;
  readonly datafeed?: PodDatafeedOptions;
  readonly faults?: FaultOptions;
  /** Seed of the fault PRNG. Default: 1. */
  readonly seed?: number;
  /** The Agent's version and Simplified Key Delivery. Default: `{}` (the defaults of each field). */
  readonly agent?: PodAgentOptions;
  /**
   * Messages the pod keeps for listing (`GET /v4/stream/{sid}/message`), pod-wide: past this many, the oldest
   * one posted goes, so a long-running pod's memory stays bounded (a real pod keeps all). 0 keeps none.
   * Default: 10_000.
   */
  readonly messageHistory?: number;
  /** The root logger; the pod logs under the child `{ component: 'pod' }`. Default: silent. */
  readonly log?: Logger;
  /** Clock, ms since the epoch: message and event timestamps, JWT expiry, feed TTL. Default: `Date.now`. */
  readonly now?: () => number;
  /** Told of every message posted in any stream, after its MESSAGESENT events are queued (a transcript). */
  readonly onMessage?: (message: WireV4Message) => void;
};

const positiveMs = z.int().positive().max(2_147_483_647);

const datafeedSchema = z.strictObject({
  visibilityTimeoutMs: positiveMs.default(30_000),
  pollTimeoutMs: positiveMs.default(30_000),
  ttlMs: positiveMs.default(1_800_000),
  maxEventsPerRead: z.int().positive().default(100),
  maxFeedsPerUser: z.int().positive().default(20),
});

/** zod schema of the data part of {@link EmbeddedPodOptions} (all but `log` and `now`), defaults applied. */
export const podConfigSchema = z
  .strictObject({
    port: z.int().min(0).max(65_535).default(0),
    host: z.literal('127.0.0.1').default('127.0.0.1'),
    users: z.array(podUserSchema).min(1),
    streams: z.array(podStreamSchema).default([]),
    keysDir: z.string().min(1).optional(),
    datafeed: datafeedSchema.prefault({}),
    faults: faultOptionsSchema.prefault({}),
    seed: z.int().default(1),
    agent: podAgentSchema.prefault({}),
    messageHistory: z.int().nonnegative().default(10_000),
  })
  .superRefine(checkUsersAndStreams);

/** The data part of the options, validated, defaults applied. */
export type PodConfig = z.output<typeof podConfigSchema>;

/**
 * Validates the data part of {@link EmbeddedPodOptions}.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID naming the first bad field (`users.1.userId: duplicate`).
 */
export function parsePodConfig(options: unknown): PodConfig {
  const result = podConfigSchema.safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
  throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `embedded pod: ${field}: ${issue?.message ?? 'invalid'}`, {
    cause: result.error,
  });
}

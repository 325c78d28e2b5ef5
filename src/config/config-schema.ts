/**
 * The configuration schema (zod). The file is YAML: config/default.yaml (the embedded pod) and
 * config/symphony.example.yaml (a real pod) show every field with comments. Field names follow the BDK
 * configuration where one exists (reference §4.5); durations are milliseconds and say so in their names.
 */
import { z } from 'zod';
import { checkUsersAndStreams, podAgentSchema, podStreamSchema, podUserSchema } from '../pod/pod-schemas.ts';

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const digits = z.string().regex(/^\d+$/, 'must be a string of digits (the int64 user id)');

/** Retry of datafeed calls (BDK `datafeed.retry`; defaults are BDK Java's code defaults, reference §4.1). */
const retrySchema = z.strictObject({
  initialIntervalMs: z.number().int().positive().default(500),
  multiplier: z.number().min(1).default(2),
  maxIntervalMs: z.number().int().positive().default(300_000),
});

/** The validated configuration. */
export const configSchema = z.strictObject({
  bot: z.strictObject({
    /** Known from `GET /pod/v2/sessioninfo` when connected; needed here for replay. */
    userId: digits.optional(),
    displayName: z.string().min(1).optional(),
    /** The service account's username (the JWT `sub`). */
    username: z.string().min(1).optional(),
    /** The RSA private key: a PEM file, or its content (use the CHORUS_BOT_PRIVATE_KEY variable for secrets). */
    privateKey: z
      .strictObject({ path: z.string().min(1).optional(), content: z.string().min(1).optional() })
      .refine((key) => key.path !== undefined || key.content !== undefined, 'needs path or content')
      .optional(),
  }),
  /** Where the pod, agent and key manager are; ignored (pointed at it) when `embeddedPod` is set. */
  pod: z.strictObject({ url }).optional(),
  agent: z.strictObject({ url }).optional(),
  keyManager: z.strictObject({ url }).optional(),
  datafeed: z
    .strictObject({
      /** Reuse/create the feed with this tag (BDK `datafeed.tag`); default: reuse any `_f` feed. */
      tag: z.string().min(1).max(100).optional(),
      /**
       * Ask for the events of invisible rooms too, when a feed is created (BDK `datafeed.includeInvisible`,
       * Agent 26.2.1+; SPEC `V5DatafeedCreateBody.includeInvisible`, default false). A reused feed keeps what it
       * was created with. Default: false.
       */
      includeInvisible: z.boolean({ error: 'must be true or false' }).default(false),
      /** Client timeout of a read; must exceed the pod's 30 s long poll. */
      readTimeoutMs: z.number().int().min(35_000).default(60_000),
      retry: retrySchema.default({ initialIntervalMs: 500, multiplier: 2, maxIntervalMs: 300_000 }),
    })
    .default({ includeInvisible: false, readTimeoutMs: 60_000, retry: { initialIntervalMs: 500, multiplier: 2, maxIntervalMs: 300_000 } }),
  reply: z
    .strictObject({
      maxAttempts: z.number().int().positive().default(5),
      /** Minimum time between two messages to one stream (reference §3.3: large rooms ≤ 2 messages/s). */
      minIntervalMsPerStream: z.number().int().nonnegative().default(0),
    })
    .default({ maxAttempts: 5, minIntervalMsPerStream: 0 }),
  /**
   * Where conversation state, the durable inbox, dedupe marks and dead letters live (one backend for all, so
   * an event's state changes and its "done" mark commit together).
   */
  state: z
    .strictObject({
      /** sqlite: a file, no server (the embedded default); redis: shared by several instances; memory: tests. */
      backend: z.enum(['sqlite', 'redis', 'memory']).default('sqlite'),
      /** The SQLite file. */
      path: z.string().min(1).default('var/state.db'),
      /** The Redis URL (env CHORUS_STATE_URL for one with a password). */
      url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
      /** Prefix of every Redis key: several bots can share one Redis. */
      keyPrefix: z.string().default('chorus:'),
      /** This instance's name in conversation leases; instances sharing a backend need different names. */
      instanceName: z.string().min(1).optional(),
      /** Time to live of state after its last write. */
      ttlMs: z.number().int().positive().default(604_800_000),
      /** How long a handled event's dedupe key is remembered. */
      dedupeWindowMs: z.number().int().positive().default(86_400_000),
      /** Attempts before an event is dead-lettered. */
      maxAttempts: z.number().int().positive().default(3),
      /** Conversations handled at once. */
      concurrency: z.number().int().positive().default(64),
      /** Lease of a conversation by an instance; another takes over this long after an instance dies. */
      leaseMs: z.number().int().min(1_000).default(15_000),
    })
    .prefault({}),
  /** `GET /healthz` and `GET /metrics`. Port 0 picks a free port. */
  http: z
    .strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65_535).default(8080) })
    .default({ host: '127.0.0.1', port: 8080 }),
  /**
   * After `trimWhenIdleMs` (ms) without a datafeed event, one memory-reducing GC gives the young generation
   * V8 grew at start-up or under load back to the system (src/daemon/idle-trim.ts); 0: never.
   */
  memory: z.strictObject({ trimWhenIdleMs: z.number().int().min(0).default(10_000) }).default({ trimWhenIdleMs: 10_000 }),
  /** The folder of listener modules (TypeScript or JavaScript files; *.test.* files are skipped). */
  listeners: z.string().min(1).default('listeners'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
  /** Run an embedded Symphony-compatible pod on 127.0.0.1 and connect the bot to it. */
  embeddedPod: z
    .strictObject({
      port: z.number().int().min(0).max(65_535).default(7443),
      /** Where the private keys of the pod's users are written (`<keysDir>/<username>.pem`). */
      keysDir: z.string().default('var/pod/keys'),
      /** The pod's users, as the embedded pod's `users` option takes them, but for `publicKeyPem` (keys are generated). */
      users: z.array(podUserSchema.omit({ publicKeyPem: true })).min(1),
      streams: z.array(podStreamSchema).default([]),
      /**
       * The pod's Agent (`GET /agent/v1/info` version, default `Agent-25.12.0-chorus-embedded`) and whether the pod
       * offers Simplified Key Delivery (default false): see the embedded pod's `agent` option.
       */
      agent: podAgentSchema.optional(),
      /** Messages posted when the daemon starts, to show a conversation: `{ as, stream, message }`. */
      demo: z.array(z.strictObject({ as: z.string(), stream: z.string(), message: z.string() })).default([]),
    })
    .superRefine((pod, ctx) => {
      checkUsersAndStreams(pod, ctx);
      const usernames = new Set(pod.users.map((user) => user.username));
      const streamIds = new Set(pod.streams.map((stream) => stream.streamId));
      pod.demo.forEach((step, index) => {
        if (!usernames.has(step.as)) ctx.addIssue({ code: 'custom', path: ['demo', index, 'as'], message: `unknown username ${step.as}` });
        if (!streamIds.has(step.stream)) {
          ctx.addIssue({ code: 'custom', path: ['demo', index, 'stream'], message: `unknown stream ${step.stream}` });
        }
      });
    })
    .optional(),
});

export type Config = z.infer<typeof configSchema>;

/**
 * What an environment variable overrides: the field at `path`, a string, or, for a `boolean` field, `true` or
 * `false` as booleans (any other value is kept as a string, which the schema then refuses naming the field).
 */
export type EnvOverride = { readonly path: readonly string[]; readonly boolean?: true };

/**
 * Environment variables that override a field, for secrets and per-host settings. Nothing else in chorus
 * reads the environment.
 */
export const ENV_OVERRIDES: Readonly<Record<string, EnvOverride>> = {
  CHORUS_BOT_USERNAME: { path: ['bot', 'username'] },
  CHORUS_BOT_PRIVATE_KEY_PATH: { path: ['bot', 'privateKey', 'path'] },
  CHORUS_BOT_PRIVATE_KEY: { path: ['bot', 'privateKey', 'content'] },
  CHORUS_POD_URL: { path: ['pod', 'url'] },
  CHORUS_AGENT_URL: { path: ['agent', 'url'] },
  CHORUS_KEY_MANAGER_URL: { path: ['keyManager', 'url'] },
  CHORUS_DATAFEED_TAG: { path: ['datafeed', 'tag'] },
  CHORUS_DATAFEED_INCLUDE_INVISIBLE: { path: ['datafeed', 'includeInvisible'], boolean: true },
  CHORUS_LOG_LEVEL: { path: ['log', 'level'] },
  CHORUS_STATE_URL: { path: ['state', 'url'] },
  CHORUS_STATE_INSTANCE_NAME: { path: ['state', 'instanceName'] },
};

/**
 * Fault injection for the embedded pod: with a seeded PRNG, a request of an eligible area is answered with a
 * server error, a 429, an expired session, an expired feed, a dropped connection or a delay, so that clients'
 * retry and recovery paths (reference §1.3) can be exercised reproducibly.
 */
import { z } from 'zod';
import { ChorusError } from '../errors.ts';

/** The endpoint groups faults apply to: `auth` (authenticate + sessioninfo), `datafeed` (/agent/v5), `message`. */
export const FAULT_AREAS = ['auth', 'datafeed', 'message'] as const;
/** An endpoint group of {@link FAULT_AREAS}. */
export type FaultArea = (typeof FAULT_AREAS)[number];

/**
 * The kinds of injected faults, in the order their rates are stacked on one uniform draw (see
 * {@link createFaultInjector}).
 */
export const FAULT_KINDS = [
  'serverError',
  'tooManyRequests',
  'sessionExpiry',
  'feedExpiry',
  'dropConnection',
  'slowResponse',
] as const;
/** A kind of injected fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Which faults to inject. Rates are probabilities in [0, 1] per eligible request; their sum must not exceed 1
 * (at most one fault per request). Default: every rate 0.
 */
export type FaultOptions = {
  /** 500 with a V2Error body. */
  readonly serverErrorRate?: number;
  /** 429 with `Retry-After: <retryAfterSeconds>` (DOCS global-throttling, reference §3.3). */
  readonly tooManyRequestsRate?: number;
  /** The `Retry-After` value, seconds. Default: 1. */
  readonly retryAfterSeconds?: number;
  /** 401: the caller's session and key manager tokens expire; later calls 401 until it authenticates again. */
  readonly sessionExpiryRate?: number;
  /** 400 on a datafeed read: the feed expires (deleted with its un-acked events, reference §1.2). */
  readonly feedExpiryRate?: number;
  /** The socket is destroyed without a response. */
  readonly dropConnectionRate?: number;
  /** The response is delayed by `slowResponseMs`, then served normally. */
  readonly slowResponseRate?: number;
  /** The delay of a slow response, ms. Default: 1_000. */
  readonly slowResponseMs?: number;
  /** The areas faults apply to. Default: `['datafeed', 'message']` (never the authenticate endpoints). */
  readonly only?: readonly FaultArea[];
};

const rate = z.number().min(0).max(1).default(0);

/** zod schema of {@link FaultOptions}, defaults applied. */
export const faultOptionsSchema = z
  .strictObject({
    serverErrorRate: rate,
    tooManyRequestsRate: rate,
    retryAfterSeconds: z.int().min(0).max(86_400).default(1),
    sessionExpiryRate: rate,
    feedExpiryRate: rate,
    dropConnectionRate: rate,
    slowResponseRate: rate,
    slowResponseMs: z.int().min(0).max(600_000).default(1_000),
    only: z.array(z.enum(FAULT_AREAS)).default(['datafeed', 'message']),
  })
  .refine((f) => FAULT_KINDS.reduce((sum, kind) => sum + f[`${kind}Rate`], 0) <= 1, {
    message: 'the fault rates add up to more than 1',
  });

/** Fault options with defaults applied. */
export type FaultPlan = z.output<typeof faultOptionsSchema>;

/** Draws faults for requests; see {@link createFaultInjector}. */
export type FaultInjector = {
  /**
   * Decides the fault of one request of `area`: undefined when the area is not in `only`, when no fault is
   * drawn, or when the drawn kind is not in `applicable` (a feed expiry on a request that reads no feed).
   * A returned fault is counted.
   */
  draw(area: FaultArea, applicable: ReadonlySet<FaultKind>): FaultKind | undefined;
  /** Replaces the options; the PRNG sequence goes on (it is not reseeded). */
  set(options: FaultOptions): void;
  /** The current options, defaults applied. */
  plan(): FaultPlan;
  /** How many faults of each kind were injected. */
  counts(): Record<FaultKind, number>;
};

/**
 * Parses fault options.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID naming the field (`faults.serverErrorRate: ...`) when a rate is
 *   outside [0, 1], the rates add up to more than 1, or a field is unknown.
 */
export function parseFaultOptions(options: unknown): FaultPlan {
  const result = faultOptionsSchema.safeParse(options ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = ['faults', ...(issue?.path ?? [])].join('.');
  throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `${field}: ${issue?.message ?? 'invalid'}`, {
    cause: result.error,
  });
}

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same sequence of numbers in [0, 1).
 *
 * @example
 * const next = createPrng(42); next(); // always the same first value for seed 42
 */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Creates a fault injector. Each eligible request (area in `only`, some rate above 0) takes one number `r` from
 * the PRNG seeded with `seed`; the rates are stacked in {@link FAULT_KINDS} order and `r` picks the kind whose
 * slice it falls in, so a given seed and request order always inject the same faults.
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when `options` are invalid (see {@link parseFaultOptions}).
 * @example
 * const faults = createFaultInjector(7, { serverErrorRate: 0.1 });
 * faults.draw('datafeed', new Set(FAULT_KINDS)); // 'serverError' about one time in ten
 */
export function createFaultInjector(seed: number, options: FaultOptions = {}): FaultInjector {
  const next = createPrng(seed);
  let current = parseFaultOptions(options);
  const counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;

  return {
    draw(area, applicable) {
      if (!current.only.includes(area)) return undefined;
      if (FAULT_KINDS.every((kind) => current[`${kind}Rate`] === 0)) return undefined;
      const r = next();
      let upper = 0;
      for (const kind of FAULT_KINDS) {
        upper += current[`${kind}Rate`];
        if (r < upper) {
          if (!applicable.has(kind)) return undefined;
          counts[kind] += 1;
          return kind;
        }
      }
      return undefined;
    },
    set(options) {
      current = parseFaultOptions(options);
    },
    plan: () => current,
    counts: () => ({ ...counts }),
  };
}

/**
 * Verification of the RSA authentication JWT a bot sends to `/login/pubkey/authenticate` and
 * `/relay/pubkey/authenticate` (LOGIN `AuthenticateRequest`; reference §3.4), with node:crypto only.
 */
import { verify, type KeyObject } from 'node:crypto';

/** The latest `exp` accepted: five minutes after now ("between the current time and five minutes from the
 * current time", reference §3.4). */
export const MAX_JWT_LIFETIME_MS = 300_000;

/** Why a JWT was refused: logged as a field, never answered to the client beyond a 401. */
export type JwtRefusal =
  | 'malformed'
  | 'alg-not-rs512'
  | 'no-subject'
  | 'unknown-user'
  | 'bad-signature'
  | 'expired'
  | 'exp-too-far';

/** The outcome of {@link verifyAuthJwt}. */
export type JwtVerdict =
  | { readonly ok: true; readonly username: string }
  | { readonly ok: false; readonly reason: JwtRefusal };

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Verifies a compact JWS: header `alg` must be `RS512`; claim `sub` names the user, whose public key
 * `publicKeyOf` returns; the RSASSA-PKCS1-v1_5 SHA-512 signature must verify with it; claim `exp` (seconds)
 * must be after `nowMs` and at most {@link MAX_JWT_LIFETIME_MS} after it. Never throws.
 *
 * @example
 * const verdict = verifyAuthJwt(token, (username) => users.byUsername(username)?.publicKey, Date.now());
 * if (verdict.ok) issueSession(verdict.username);
 */
export function verifyAuthJwt(
  token: string,
  publicKeyOf: (username: string) => KeyObject | undefined,
  nowMs: number,
): JwtVerdict {
  const parts = token.split('.');
  if (parts.length !== 3) return refuse('malformed');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  // An unsecured JWT (`alg: none`) has an empty signature: refused below for its alg.
  if (!SEGMENT.test(headerPart) || !SEGMENT.test(payloadPart) || !/^[A-Za-z0-9_-]*$/.test(signaturePart)) {
    return refuse('malformed');
  }
  const header = decodeJsonObject(headerPart);
  const payload = decodeJsonObject(payloadPart);
  if (header === undefined || payload === undefined) return refuse('malformed');
  if (header['alg'] !== 'RS512') return refuse('alg-not-rs512');
  const subject = payload['sub'];
  if (typeof subject !== 'string' || subject === '') return refuse('no-subject');
  const publicKey = publicKeyOf(subject);
  if (publicKey === undefined) return refuse('unknown-user');
  const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
  let valid: boolean;
  try {
    valid = verify('sha512', signed, publicKey, Buffer.from(signaturePart, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) return refuse('bad-signature');
  const exp = payload['exp'];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return refuse('malformed');
  const expMs = exp * 1000;
  if (expMs <= nowMs) return refuse('expired');
  if (expMs > nowMs + MAX_JWT_LIFETIME_MS) return refuse('exp-too-far');
  return { ok: true, username: subject };
}

function refuse(reason: JwtRefusal): JwtVerdict {
  return { ok: false, reason };
}

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyAuthJwt, type JwtRefusal } from './jwt-verify.ts';
import { ALICE, BOT, T0, privateKeyOf, signJwt } from './pod-test-kit.ts';

const keyOf = (username: string) =>
  username === BOT.username || username === ALICE.username ? createPublicKey(privateKeyOf(username)) : undefined;
const exp = (offsetMs: number): number => Math.floor((T0 + offsetMs) / 1000);
const botSigned = (claims: Record<string, unknown>, alg?: 'RS512' | 'RS256' | 'none') =>
  signJwt(privateKeyOf(BOT.username), claims, alg);

describe('verifyAuthJwt', () => {
  it('accepts an RS512 JWT of a known user expiring within 5 minutes', () => {
    expect(verifyAuthJwt(botSigned({ sub: BOT.username, exp: exp(240_000) }), keyOf, T0)).toEqual({
      ok: true,
      username: BOT.username,
    });
  });

  const cases: [JwtRefusal, string][] = [
    ['malformed', 'a.b'],
    ['malformed', 'a.b.c.d'],
    ['malformed', `${Buffer.from('{').toString('base64url')}.e30.c2ln`],
    ['alg-not-rs512', botSigned({ sub: BOT.username, exp: exp(60_000) }, 'RS256')],
    ['alg-not-rs512', botSigned({ sub: BOT.username, exp: exp(60_000) }, 'none')],
    ['no-subject', botSigned({ exp: exp(60_000) })],
    ['unknown-user', botSigned({ sub: 'nobody', exp: exp(60_000) })],
    ['bad-signature', signJwt(privateKeyOf(ALICE.username), { sub: BOT.username, exp: exp(60_000) })],
    ['expired', botSigned({ sub: BOT.username, exp: exp(0) })],
    ['exp-too-far', botSigned({ sub: BOT.username, exp: exp(301_000) })],
    ['malformed', botSigned({ sub: BOT.username, exp: 'soon' })],
  ];
  it.each(cases)('refuses with %s', (reason, token) => {
    expect(verifyAuthJwt(token, keyOf, T0)).toEqual({ ok: false, reason });
  });

  it('refuses a token whose payload was changed after signing', () => {
    const [header, , signature] = botSigned({ sub: BOT.username, exp: exp(60_000) }).split('.');
    const payload = Buffer.from(JSON.stringify({ sub: BOT.username, exp: exp(120_000) })).toString('base64url');
    const tampered = `${header}.${payload}.${signature}`;
    expect(verifyAuthJwt(tampered, keyOf, T0)).toEqual({ ok: false, reason: 'bad-signature' });
  });
});

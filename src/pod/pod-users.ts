/**
 * The pod's users: lookups by id, username and email, their RSA keys (given, read from `keysDir` or generated),
 * and their wire shapes (`V4User` in events and messages, `UserV2` from sessioninfo).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ChorusError } from '../errors.ts';
import type { PodConfig } from './pod-config.ts';

const generateRsaKeyPair = promisify(generateKeyPair);

/** A user of the pod, with its public key and, when the pod generated it, its private key. */
export type PodUser = {
  readonly userId: string;
  readonly username: string;
  readonly displayName: string;
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string | undefined;
  readonly publicKey: KeyObject;
  /** PKCS#8 PEM; undefined when the user was configured with its own public key. */
  readonly privateKeyPem: string | undefined;
};

/** The pod's users. */
export type UserDirectory = {
  byId(userId: string): PodUser | undefined;
  byUsername(username: string): PodUser | undefined;
  /** Case-insensitive. */
  byEmail(email: string): PodUser | undefined;
  all(): readonly PodUser[];
};

/** The keys of one user. */
type UserKeys = { publicKey: KeyObject; privateKeyPem: string | undefined };

/**
 * Builds the user directory. Users with `publicKeyPem` use it; the others get an RSA-2048 key pair, read from
 * `<keysDir>/<username>.pem` when that file exists, else generated and, with `keysDir`, written there (mode
 * 0600, directory created with mode 0700).
 *
 * @throws ChorusError CHORUS_ERR_CONFIG_INVALID when a `publicKeyPem` or a key file is not an RSA key.
 * @throws ChorusError CHORUS_ERR_POD_START when a key file cannot be read or written.
 */
export async function createUserDirectory(
  users: PodConfig['users'],
  keysDir: string | undefined,
): Promise<UserDirectory> {
  if (keysDir !== undefined) await ensureKeysDir(keysDir);
  const built = await Promise.all(
    users.map(async (user, i): Promise<PodUser> => {
      const keys =
        user.publicKeyPem === undefined
          ? await loadOrGenerateKeys(user.username, keysDir)
          : { publicKey: toRsaPublicKey(user.publicKeyPem, `users.${i}.publicKeyPem`), privateKeyPem: undefined };
      const [first = user.displayName, ...rest] = user.displayName.trim().split(/\s+/);
      return {
        userId: user.userId,
        username: user.username,
        displayName: user.displayName,
        email: user.email ?? `${user.username}@example.com`,
        firstName: first,
        lastName: rest.length > 0 ? rest.join(' ') : undefined,
        ...keys,
      };
    }),
  );
  const ids = new Map(built.map((u) => [u.userId, u]));
  const names = new Map(built.map((u) => [u.username, u]));
  const emails = new Map(built.map((u) => [u.email.toLowerCase(), u]));
  return {
    byId: (userId) => ids.get(userId),
    byUsername: (username) => names.get(username),
    byEmail: (email) => emails.get(email.toLowerCase()),
    all: () => built,
  };
}

async function ensureKeysDir(keysDir: string): Promise<void> {
  try {
    await mkdir(keysDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_POD_START', `embedded pod: cannot create keysDir ${keysDir}`, { cause: err });
  }
}

function toRsaPublicKey(pem: string, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `embedded pod: ${field}: not a PEM public key`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `embedded pod: ${field}: not an RSA key`);
  }
  return key;
}

async function loadOrGenerateKeys(username: string, keysDir: string | undefined): Promise<UserKeys> {
  const path = keysDir === undefined ? undefined : join(keysDir, `${username}.pem`);
  if (path !== undefined) {
    const existing = await readKeyFile(path);
    if (existing !== undefined) return existing;
  }
  const { privateKey, publicKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  if (path !== undefined) {
    try {
      await writeFile(path, privateKeyPem, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new ChorusError('CHORUS_ERR_POD_START', `embedded pod: cannot write key file ${path}`, { cause: err });
    }
  }
  return { publicKey, privateKeyPem };
}

/** The keys in the PEM file at `path`; undefined when there is no such file. */
async function readKeyFile(path: string): Promise<UserKeys | undefined> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ChorusError('CHORUS_ERR_POD_START', `embedded pod: cannot read key file ${path}`, { cause: err });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `embedded pod: ${path}: not a PEM private key`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new ChorusError('CHORUS_ERR_CONFIG_INVALID', `embedded pod: ${path}: not an RSA key`);
  }
  return { publicKey: createPublicKey(privateKey), privateKeyPem: pem };
}

/** The wire `V4User` of a user, as events and messages carry it (SPEC `V4User`; `userId` an int64 number). */
export type WireV4User = {
  userId: number;
  firstName: string;
  lastName?: string;
  displayName: string;
  email: string;
  username: string;
};

/** The `V4User` of `user` (reference §2.1). */
export function toV4User(user: PodUser): WireV4User {
  return {
    userId: Number(user.userId),
    firstName: user.firstName,
    ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
    displayName: user.displayName,
    email: user.email,
    username: user.username,
  };
}

/**
 * The `UserV2` of `user`, as `GET /pod/v2/sessioninfo` answers (shape of BDK Java fixture
 * `res_response/bot_info.json`).
 */
export function toUserV2(user: PodUser): Record<string, unknown> {
  return {
    id: Number(user.userId),
    emailAddress: user.email,
    firstName: user.firstName,
    ...(user.lastName === undefined ? {} : { lastName: user.lastName }),
    displayName: user.displayName,
    username: user.username,
    avatars: [],
    roles: ['INDIVIDUAL'],
  };
}

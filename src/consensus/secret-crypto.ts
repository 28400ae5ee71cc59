// Sealing of Secret data before it enters the Raft log, so the log and its
// snapshots on disk (and every message that carries them) hold only ciphertext.
// The key is derived from the cluster's pnet key, which every member holds:
// sealing protects data at rest and in the log, not from a member.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretSealer {
  /** Encrypts `plaintext` for the secret namespace/name: `v1:<base64 nonce>:<base64 ciphertext+tag>`. */
  seal(namespace: string, name: string, plaintext: string): string;
  /** Decrypts a sealed blob; throws SealedDataError when it was altered, is of another secret, or another key. */
  open(namespace: string, name: string, sealed: string): string;
}

/** A sealed blob that cannot be opened: tampered, moved to another secret, or sealed under another key. */
export class SealedDataError extends Error {}

export const SEALED_PREFIX = 'v1:';
/** What a sealed blob looks like; the FSM checks it without being able to open it. */
export const SEALED_FORMAT = /^v1:[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/;
const INFO = 'mesh secrets v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** The AES-256 key for secrets, derived from the cluster's 32-byte pre-shared key. */
export function deriveSecretKey(psk: Uint8Array): Buffer {
  if (psk.length !== KEY_BYTES) throw new Error(`the cluster key must be ${KEY_BYTES} bytes, got ${psk.length}`);
  return Buffer.from(hkdfSync('sha256', psk, new Uint8Array(0), INFO, KEY_BYTES));
}

/** Binds a blob to one secret: a blob copied into another secret's entry fails to open. */
function aad(namespace: string, name: string): Buffer {
  return Buffer.from(`${namespace}/${name}`, 'utf8');
}

export function createSecretSealer(psk: Uint8Array): SecretSealer {
  const key = deriveSecretKey(psk);
  return {
    seal(namespace, name, plaintext) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(namespace, name));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${SEALED_PREFIX}${nonce.toString('base64')}:${body.toString('base64')}`;
    },
    open(namespace, name, sealed) {
      if (!SEALED_FORMAT.test(sealed)) throw new SealedDataError(`sealed data of secret ${namespace}/${name} is not in the v1 format`);
      const [, nonceB64, bodyB64] = sealed.split(':') as [string, string, string];
      const nonce = Buffer.from(nonceB64, 'base64');
      const body = Buffer.from(bodyB64, 'base64');
      if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) {
        throw new SealedDataError(`sealed data of secret ${namespace}/${name} is truncated`);
      }
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(namespace, name));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new SealedDataError(`sealed data of secret ${namespace}/${name} failed authentication (altered, moved or sealed under another key)`);
      }
    },
  };
}

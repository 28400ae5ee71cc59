// Join tokens: everything a new machine needs to enter a cluster safely, in one
// string. The pre-shared key opens the private libp2p network; the CA hash pins
// the certificate authority the joiner will be handed (as kubeadm's discovery
// hash does), so a machine that answers on the right network but with another CA
// is refused.
import { createHash, X509Certificate } from 'node:crypto';
import { BadRequest } from '../agent/api/errors.ts';

export interface JoinToken {
  /** The cluster's 32-byte pre-shared key. */
  psk: Uint8Array;
  /** Hex sha256 of the CA certificate's DER encoding. */
  caHash: string;
}

const PREFIX = 'mesh1';
export const PSK_LENGTH = 32;

export function createJoinToken(psk: Uint8Array, caCertPem: string): string {
  if (psk.length !== PSK_LENGTH) throw new BadRequest(`psk must be ${PSK_LENGTH} bytes, got ${psk.length}`);
  return `${PREFIX}.${Buffer.from(psk).toString('base64url')}.${caCertHash(caCertPem)}`;
}

export function parseJoinToken(token: string): JoinToken {
  const s = token.trim();
  const parts = s.split('.');
  if (parts.length !== 3) {
    throw new BadRequest(`malformed join token: expected 3 dot-separated parts (${PREFIX}.<key>.<ca hash>), got ${parts.length}`);
  }
  const [prefix, key, hash] = parts as [string, string, string];
  if (prefix !== PREFIX) throw new BadRequest(`malformed join token: unknown version "${prefix}", expected "${PREFIX}"`);
  if (!/^[A-Za-z0-9_-]+$/.test(key)) throw new BadRequest('malformed join token: the key part is not base64url');
  const psk = new Uint8Array(Buffer.from(key, 'base64url'));
  if (psk.length !== PSK_LENGTH) {
    throw new BadRequest(`malformed join token: the key must decode to ${PSK_LENGTH} bytes, got ${psk.length}`);
  }
  if (!/^[0-9a-f]{64}$/.test(hash)) {
    throw new BadRequest('malformed join token: the CA hash must be 64 lower-case hex digits (sha256)');
  }
  return { psk, caHash: hash };
}

/** Hex sha256 of a PEM certificate's DER bytes. */
export function caCertHash(caCertPem: string): string {
  let der: Buffer;
  try {
    der = new X509Certificate(caCertPem).raw;
  } catch (err) {
    throw new BadRequest(`not a PEM certificate: ${(err as Error).message}`);
  }
  return createHash('sha256').update(der).digest('hex');
}

// Who may call the API: the admin bearer token, or a client certificate issued by
// the cluster CA (TLS verifies the chain; we only read the verdict).
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';

export interface Identity {
  user: string;
  groups: string[];
  via: 'token' | 'certificate';
}

export interface Authenticator {
  authenticate(req: IncomingMessage): Identity | undefined;
}

export function createAuthenticator(opts: { adminToken: string }): Authenticator {
  // Comparing digests keeps the comparison constant-time whatever the input length.
  const want = createHash('sha256').update(opts.adminToken).digest();
  return {
    authenticate(req) {
      const header = req.headers.authorization;
      if (header) {
        const m = /^Bearer\s+(.+)$/i.exec(header.trim());
        if (m && timingSafeEqual(createHash('sha256').update(m[1]!).digest(), want)) {
          return { user: 'mesh-admin', groups: ['system:masters'], via: 'token' };
        }
      }
      const socket = req.socket as TLSSocket;
      if (socket.authorized) {
        const cert = socket.getPeerCertificate();
        const org = cert?.subject?.O;
        return {
          user: String(cert?.subject?.CN ?? 'unknown'),
          groups: Array.isArray(org) ? org : org ? [org] : [],
          via: 'certificate',
        };
      }
      return undefined;
    },
  };
}

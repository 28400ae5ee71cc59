import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ensurePki } from '../../../src/agent/api/pki.ts';
import { BadRequest } from '../../../src/agent/api/errors.ts';
import { caCertHash, createJoinToken, parseJoinToken } from '../../../src/net/join-token.ts';
import { newPsk } from './net-harness.ts';

describe('join token', () => {
  let dir: string;
  let caPem: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mesh-token-'));
    caPem = (await ensurePki(dir)).caCertPem;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('round-trips the key and the CA hash', () => {
    const psk = newPsk();
    const token = createJoinToken(psk, caPem);
    assert.match(token, /^mesh1\.[A-Za-z0-9_-]+\.[0-9a-f]{64}$/);
    const parsed = parseJoinToken(token);
    assert.deepEqual([...parsed.psk], [...psk]);
    assert.equal(parsed.caHash, caCertHash(caPem));
    // Surrounding whitespace (copy/paste) is tolerated.
    assert.deepEqual([...parseJoinToken(`  ${token}\n`).psk], [...psk]);
  });

  it('hashes the DER of the CA certificate', () => {
    const der = new X509Certificate(caPem).raw;
    assert.equal(caCertHash(caPem), createHash('sha256').update(der).digest('hex'));
  });

  it('refuses malformed tokens with a message naming the problem', () => {
    const good = createJoinToken(newPsk(), caPem);
    const [, key, hash] = good.split('.');
    const cases: [string, RegExp][] = [
      ['', /3 dot-separated parts/],
      ['mesh1.abc', /3 dot-separated parts/],
      [`mesh2.${key}.${hash}`, /unknown version "mesh2"/],
      [`mesh1.${key}!.${hash}`, /not base64url/],
      [`mesh1.${Buffer.alloc(16).toString('base64url')}.${hash}`, /32 bytes, got 16/],
      [`mesh1.${key}.${hash!.slice(1)}`, /64 lower-case hex/],
      [`mesh1.${key}.${hash!.toUpperCase()}`, /64 lower-case hex/],
      [`${good}.extra`, /got 4/],
    ];
    for (const [token, message] of cases) {
      assert.throws(() => parseJoinToken(token), (err: Error) => err instanceof BadRequest && message.test(err.message), token);
    }
  });

  it('refuses a key of the wrong size and a CA that is not PEM', () => {
    assert.throws(() => createJoinToken(new Uint8Array(31), caPem), /32 bytes/);
    assert.throws(() => caCertHash('not a certificate'), /not a PEM certificate/);
  });
});

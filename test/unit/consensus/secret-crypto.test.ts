import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SEALED_FORMAT, SealedDataError, createSecretSealer, deriveSecretKey } from '../../../src/consensus/secret-crypto.ts';

const psk = new Uint8Array(randomBytes(32));

describe('secret sealing', () => {
  it('round-trips, with a fresh nonce each time and no plaintext in the blob', () => {
    const sealer = createSecretSealer(psk);
    const plain = JSON.stringify({ password: Buffer.from('hunter2-very-secret').toString('base64') });
    const a = sealer.seal('prod', 'db', plain);
    const b = sealer.seal('prod', 'db', plain);
    assert.match(a, SEALED_FORMAT);
    assert.ok(a.startsWith('v1:'));
    assert.notEqual(a, b, 'two seals of the same data differ (random nonce)');
    assert.equal(Buffer.from(a.split(':')[1]!, 'base64').length, 12);
    assert.ok(!a.includes(plain) && !a.includes('hunter2'));
    assert.equal(sealer.open('prod', 'db', a), plain);
    // Another member with the same cluster key opens it.
    assert.equal(createSecretSealer(new Uint8Array(psk)).open('prod', 'db', b), plain);
  });

  it('detects tampering with the ciphertext, the tag or the nonce', () => {
    const sealer = createSecretSealer(psk);
    const sealed = sealer.seal('ns', 's', 'value');
    const [v, nonce, body] = sealed.split(':') as [string, string, string];
    const flip = (b64: string, at: number) => {
      const buf = Buffer.from(b64, 'base64');
      buf[at] = buf[at]! ^ 1;
      return buf.toString('base64');
    };
    const bodyLen = Buffer.from(body, 'base64').length;
    for (const bad of [
      `${v}:${nonce}:${flip(body, 0)}`,
      `${v}:${nonce}:${flip(body, bodyLen - 1)}`,
      `${v}:${flip(nonce, 0)}:${body}`,
      `${v}:${nonce}:${Buffer.from(body, 'base64').subarray(0, 8).toString('base64')}`,
      `v2:${nonce}:${body}`,
      'not sealed at all',
    ]) {
      assert.throws(() => sealer.open('ns', 's', bad), SealedDataError, bad);
    }
  });

  it('refuses a blob moved to another secret (associated data) or opened with another key', () => {
    const sealer = createSecretSealer(psk);
    const sealed = sealer.seal('ns', 'a', 'value');
    assert.throws(() => sealer.open('ns', 'b', sealed), /failed authentication/);
    assert.throws(() => sealer.open('other', 'a', sealed), SealedDataError);
    // "ns/a" must not be confusable with a namespace/name split elsewhere.
    assert.throws(() => createSecretSealer(psk).open('ns/a', '', sealed), SealedDataError);
    assert.throws(() => createSecretSealer(new Uint8Array(randomBytes(32))).open('ns', 'a', sealed), SealedDataError);
  });

  it('derives a 32-byte key that differs from the cluster key, and refuses keys of the wrong size', () => {
    const key = deriveSecretKey(psk);
    assert.equal(key.length, 32);
    assert.notDeepEqual(new Uint8Array(key), psk);
    assert.deepEqual(deriveSecretKey(new Uint8Array(psk)), key);
    assert.throws(() => createSecretSealer(new Uint8Array(16)), /32 bytes/);
  });
});

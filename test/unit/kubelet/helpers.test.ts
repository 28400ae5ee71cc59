import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { createBackoff, formatDuration } from '../../../src/agent/kubelet/backoff.ts';
import { ContainerConfigError, expandVars, resolveEnv } from '../../../src/agent/kubelet/env.ts';
import { createDemuxer } from '../../../src/agent/kubelet/docker-runtime.ts';

const podWith = (containers: Pod['spec']['containers']): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'x' } },
  spec: { nodeName: 'n', containers },
});

describe('kubelet helpers', () => {
  it('formats durations like Go', () => {
    assert.equal(formatDuration(10_000), '10s');
    assert.equal(formatDuration(80_000), '1m20s');
    assert.equal(formatDuration(300_000), '5m0s');
    assert.equal(formatDuration(250), '250ms');
  });

  it('backs off: immediate first restart, then doubling up to the max', () => {
    const b = createBackoff({ initialMs: 10_000, maxMs: 40_000 });
    assert.equal(b.remaining('k', 0), 0);
    b.next('k', 0);
    assert.equal(b.remaining('k', 5_000), 5_000);
    assert.equal(b.delay('k'), 10_000);
    b.next('k', 10_000);
    b.next('k', 30_000);
    b.next('k', 70_000);
    assert.equal(b.delay('k'), 40_000);
    b.reset('k');
    assert.equal(b.remaining('k', 70_001), 0);
  });

  it('expands $(VAR) references and escapes', () => {
    const vars = new Map([['A', '1']]);
    assert.equal(expandVars('x$(A)y $(B) $$(A)', vars), 'x1y $(B) $(A)');
  });

  it('reports missing config with Kubernetes messages', () => {
    const none = { configMap: () => undefined, secret: () => undefined };
    const withCm = { configMap: () => ({ data: { k: 'v' } }), secret: () => undefined };
    const env = (e: Pod['spec']['containers'][0]['env']) => podWith([{ name: 'a', image: 'i', env: e }]);
    const s = env([{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }]);
    assert.throws(
      () => resolveEnv(s, s.spec.containers[0], {}, none),
      (e: Error) => e instanceof ContainerConfigError && e.message === 'secret "s" not found',
    );
    const p = env([{ name: 'X', valueFrom: { configMapKeyRef: { name: 'c', key: 'nope' } } }]);
    assert.throws(() => resolveEnv(p, p.spec.containers[0], {}, withCm), /couldn't find key nope in ConfigMap ns\/c/);
    const q = env([
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
    ]);
    assert.deepEqual([...resolveEnv(q, q.spec.containers[0], {}, none)], [['UID', 'u1'], ['APP', 'x']]);
  });

  it('demultiplexes Docker log frames split across chunks', async () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    const all = Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more\n')]);
    const d = createDemuxer();
    let text = '';
    d.on('data', (c: Buffer) => (text += c.toString()));
    for (let i = 0; i < all.length; i += 3) d.feed(all.subarray(i, i + 3));
    d.end();
    await new Promise((r) => d.on('end', r));
    assert.equal(text, 'out\nerr\nmore\n');
  });
});

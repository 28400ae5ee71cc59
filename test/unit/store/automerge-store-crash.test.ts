// kill -9 in the middle of a write stream: every acknowledged write survives.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createAutomergeStore } from '../../../src/agent/store/automerge-store.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

it('keeps every acknowledged create after SIGKILL', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mesh-store-crash-'));
  dirs.push(dataDir);
  const script = join(import.meta.dirname, 'fixtures', 'write-pods.ts');
  const child = spawn(process.execPath, [script, dataDir, '100000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: KubeObject[] = [];
  let buf = '';
  const killAt = 300;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'DONE') continue;
      acked.push(JSON.parse(line) as KubeObject);
      if (acked.length === killAt) child.kill('SIGKILL');
    }
  });
  const signal = await exited;
  assert.equal(signal, 'SIGKILL', 'the child was killed mid-stream, not finished');
  assert.ok(acked.length >= killAt, `acknowledged ${acked.length}`);

  const store = createAutomergeStore({ dataDir, agentId: 'crash-agent', logger: silentLogger() });
  await store.start();
  try {
    for (const obj of acked) {
      const got = store.get('pods', obj.metadata.namespace!, obj.metadata.name!);
      assert.deepEqual(got, obj, `acknowledged ${obj.metadata.name} survives unchanged`);
    }
    const maxAcked = Math.max(...acked.map((o) => Number(o.metadata.resourceVersion)));
    assert.ok(Number(store.currentResourceVersion()) >= maxAcked);
    // The reopened store keeps working where the dead one stopped.
    const all = store.list('pods').items;
    const rvs = new Set(all.map((o) => o.metadata.resourceVersion));
    assert.equal(rvs.size, all.length, 'no resourceVersion was issued twice');
  } finally {
    await store.stop();
  }
});

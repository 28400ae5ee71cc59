import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openWatch, startHarness } from './server-harness.ts';

test('stop() ends open watches and returns promptly', async () => {
  const h = await startHarness();
  const w = await openWatch(h, '/api/v1/namespaces?watch=true');
  const initial = await w.next(4);
  assert.deepEqual(initial.map((e) => e.type), ['ADDED', 'ADDED', 'ADDED', 'ADDED']);
  const t0 = Date.now();
  await h.close();
  await w.ended;
  assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { LAST_APPLIED, applyPatchFor, contains, threeWayMergePatch, withLastApplied } from '../../../src/cli/apply-patch.ts';

function pod(extra: Record<string, unknown> = {}, labels: Record<string, string> = { app: 'web' }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', labels },
    spec: { containers: [{ name: 'c', image: 'busybox:1' }], ...extra },
  };
}

/** What the server stores after a create: defaults and server fields added. */
function live(applied: KubeObject): KubeObject {
  const o = structuredClone(applied);
  o.metadata = { ...o.metadata, uid: 'u1', resourceVersion: '7', creationTimestamp: '2024-01-01T00:00:00Z' };
  const spec = o.spec as { containers: Record<string, unknown>[]; [k: string]: unknown };
  spec.restartPolicy ??= 'Always';
  for (const c of spec.containers) c.imagePullPolicy ??= 'IfNotPresent';
  o.status = { phase: 'Running' };
  return o;
}

test('re-applying the same manifest over a defaulted live object is unchanged', () => {
  const m = pod();
  assert.equal(applyPatchFor(m, live(withLastApplied(m))), undefined);
});

test('a changed image replaces the container list and updates the annotation', () => {
  const current = live(withLastApplied(pod()));
  const next = pod();
  (next.spec as { containers: { image: string }[] }).containers[0]!.image = 'busybox:2';
  const patch = applyPatchFor(next, current) as { spec: { containers: { image: string }[] }; metadata: { annotations: Record<string, string> } };
  assert.equal(patch.spec.containers[0]!.image, 'busybox:2');
  assert.match(patch.metadata.annotations[LAST_APPLIED]!, /busybox:2/);
  assert.equal(Object.keys(patch).sort().join(), 'metadata,spec');
});

test('a field removed from the manifest is deleted; fields others set are kept', () => {
  const first = pod({ nodeSelector: { disk: 'ssd' } }, { app: 'web', tier: 'fe' });
  const current = live(withLastApplied(first));
  current.metadata.labels!['added-by-someone-else'] = 'x';
  const next = pod({}, { app: 'web' });
  const patch = applyPatchFor(next, current) as { spec: Record<string, unknown>; metadata: { labels: Record<string, unknown> } };
  assert.equal(patch.spec.nodeSelector, null);
  assert.deepEqual(patch.metadata.labels, { tier: null });
  assert.ok(!('restartPolicy' in patch.spec), 'server defaults are not touched');
});

test('without last-applied nothing is deleted (only additions/changes)', () => {
  const current = live(pod({ nodeSelector: { disk: 'ssd' } }));
  const patch = threeWayMergePatch(undefined, pod(), current);
  assert.ok(!('spec' in patch));
});

test('a list item field removed from the manifest replaces the list', () => {
  const withArgs = pod();
  (withArgs.spec as { containers: Record<string, unknown>[] }).containers[0]!.args = ['sleep', '10'];
  const current = live(withLastApplied(withArgs));
  const patch = applyPatchFor(pod(), current) as { spec: { containers: Record<string, unknown>[] } };
  assert.deepEqual(patch.spec.containers, [{ name: 'c', image: 'busybox:1' }]);
});

test('contains: maps may have extra keys, lists must match in length', () => {
  assert.ok(contains({ a: 1, b: 2 }, { a: 1 }));
  assert.ok(!contains({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(contains([{ a: 1, x: 0 }], [{ a: 1 }]));
  assert.ok(!contains([{ a: 1 }, { a: 2 }], [{ a: 1 }]));
});

// Randomised: applying a manifest, then applying a changed manifest, then merging
// the patch into the live object yields an object that contains the new manifest
// and none of the fields removed from it.
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

test('randomised apply sequences converge on the manifest', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 100000);
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const keys = ['a', 'b', 'c', 'd'];
  const randomLabels = () => Object.fromEntries(keys.filter(() => rnd() < 0.5).map((k) => [k, String(Math.floor(rnd() * 3))]));
  try {
    for (let i = 0; i < 200; i++) {
      const first = pod(rnd() < 0.5 ? { hostname: 'h' } : {}, randomLabels());
      let current = live(withLastApplied(first));
      // Someone else adds an annotation in between.
      current.metadata.annotations = { ...current.metadata.annotations, other: 'x' };
      const next = pod(rnd() < 0.5 ? { hostname: 'h2' } : {}, randomLabels());
      const patch = applyPatchFor(next, current);
      if (patch) current = mergePatch(current, patch) as KubeObject;
      assert.ok(contains(current, withLastApplied(next)), 'live contains the new manifest');
      for (const k of keys) if (!(k in (next.metadata.labels ?? {}))) assert.ok(!(k in (current.metadata.labels ?? {})), `label ${k} removed`);
      if (!('hostname' in (next.spec as object))) assert.ok(!('hostname' in (current.spec as object)));
      assert.equal(current.metadata.annotations?.other, 'x');
      assert.equal(applyPatchFor(next, current), undefined, 'a second apply is unchanged');
    }
  } catch (err) {
    console.error(`seed=${seed}`);
    throw err;
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch } from '../../../../src/agent/api/patch/index.ts';
import { BadRequest, Invalid, UnsupportedMediaType } from '../../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';

const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

function deployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web', tier: 'front' } },
    spec: {
      replicas: 2,
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'log', image: 'fluent:1' }] },
      },
    },
  };
}

function images(o: KubeObject): string[] {
  return (o.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers.map((c) => c.image);
}

test('merge patch (RFC 7386): maps merge, null deletes, lists replace whole', () => {
  const original = deployment();
  const out = applyPatch(MERGE, original, {
    metadata: { labels: { tier: null, env: 'prod' } },
    spec: { replicas: 5, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
  });
  assert.deepEqual(out.metadata.labels, { app: 'web', env: 'prod' });
  assert.equal((out.spec as { replicas: number }).replicas, 5);
  assert.deepEqual(images(out), ['nginx:1.27']);
  assert.deepEqual(images(original), ['nginx:1.25', 'fluent:1']);
  assert.deepEqual(original.metadata.labels, { app: 'web', tier: 'front' });
});

test('merge patch given as a string is parsed', () => {
  const out = applyPatch(MERGE, deployment(), '{"spec":{"replicas":0}}');
  assert.equal((out.spec as { replicas: number }).replicas, 0);
});

test('merge patch that is not an object is a BadRequest', () => {
  assert.throws(() => applyPatch(MERGE, deployment(), '[1]'), BadRequest);
});

test('json patch (RFC 6902): replace a template container image, add a label, remove a field', () => {
  const original = deployment();
  const out = applyPatch(JSON_PATCH, original, [
    { op: 'test', path: '/spec/template/spec/containers/0/name', value: 'web' },
    { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'nginx:1.27' },
    { op: 'add', path: '/metadata/labels/env', value: 'prod' },
    { op: 'remove', path: '/metadata/labels/tier' },
    { op: 'copy', from: '/spec/replicas', path: '/metadata/annotations' },
  ]);
  assert.deepEqual(images(out), ['nginx:1.27', 'fluent:1']);
  assert.deepEqual(out.metadata.labels, { app: 'web', env: 'prod' });
  assert.equal(out.metadata.annotations, 2 as unknown);
  assert.deepEqual(images(original), ['nginx:1.25', 'fluent:1']);
  assert.equal(original.metadata.annotations, undefined);
});

test('json patch whose test fails is Invalid and leaves the original alone', () => {
  const original = deployment();
  assert.throws(
    () =>
      applyPatch(JSON_PATCH, original, [
        { op: 'replace', path: '/spec/replicas', value: 9 },
        { op: 'test', path: '/spec/replicas', value: 1 },
      ]),
    (err: unknown) => err instanceof Invalid && /operation 1/.test(err.message) && /test failed/.test(err.message),
  );
  assert.equal((original.spec as { replicas: number }).replicas, 2);
});

test('json patch on a missing path is Invalid naming the path', () => {
  assert.throws(
    () => applyPatch(JSON_PATCH, deployment(), [{ op: 'remove', path: '/spec/nothing/here' }]),
    (err: unknown) => err instanceof Invalid && err.message.includes('/spec/nothing/here'),
  );
  assert.throws(
    () => applyPatch(JSON_PATCH, deployment(), [{ op: 'add', path: '/spec/template/spec/containers/7', value: {} }]),
    Invalid,
  );
});

test('malformed json patches are BadRequest', () => {
  assert.throws(() => applyPatch(JSON_PATCH, deployment(), { op: 'add' }), BadRequest);
  assert.throws(
    () => applyPatch(JSON_PATCH, deployment(), [{ op: 'frobnicate', path: '/a' }]),
    (err: unknown) => err instanceof BadRequest && /frobnicate/.test(err.message),
  );
  assert.throws(() => applyPatch(JSON_PATCH, deployment(), [{ op: 'add', path: '/a' }]), BadRequest);
  assert.throws(() => applyPatch(JSON_PATCH, deployment(), [{ op: 'move', path: '/a' }]), BadRequest);
});

test('a string patch that is not JSON is a BadRequest naming the problem', () => {
  assert.throws(
    () => applyPatch('application/strategic-merge-patch+json', deployment(), '{"spec": '),
    (err: unknown) => err instanceof BadRequest && /not valid JSON/.test(err.message),
  );
});

test('an unknown content type is UnsupportedMediaType; parameters and case are tolerated', () => {
  assert.throws(() => applyPatch('application/json', deployment(), {}), UnsupportedMediaType);
  assert.throws(() => applyPatch('application/apply-patch+yaml', deployment(), {}), UnsupportedMediaType);
  const out = applyPatch('Application/Merge-Patch+JSON; charset=utf-8', deployment(), { spec: { replicas: 1 } });
  assert.equal((out.spec as { replicas: number }).replicas, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, validateObject } from '../../../../src/agent/api/admission/index.ts';
import { Invalid, toStatus } from '../../../../src/agent/api/errors.ts';
import { check, pod, render, service, typeOf, workload, type Obj } from './fixtures.ts';

test('wrong JSON types give a clear cause naming the field', () => {
  assert.deepEqual(render(check(workload('Deployment', { replicas: 'three' }))), [
    'spec.replicas: Invalid value: "three": spec.replicas in body must be of type integer',
  ]);
  const causes = check(pod({ containers: [{ name: 'a', image: 5, ports: [{ containerPort: '80' }] }], hostNetwork: 'yes' }));
  assert.deepEqual(render(causes), [
    'spec.containers[0].image: Invalid value: 5: spec.containers[0].image in body must be of type string',
    'spec.containers[0].ports[0].containerPort: Invalid value: "80": spec.containers[0].ports[0].containerPort in body must be of type integer',
    'spec.hostNetwork: Invalid value: "yes": spec.hostNetwork in body must be of type boolean',
  ]);
  assert.ok(causes.every((c) => c.reason === 'FieldValueTypeInvalid'));
  assert.deepEqual(render(check(pod({ containers: 'nginx' }))), ['spec.containers: Invalid value: "nginx": spec.containers in body must be of type array']);
  assert.deepEqual(render(check(service({ ports: [{ port: 80, targetPort: true }] }))), [
    'spec.ports[0].targetPort: Invalid value: true: spec.ports[0].targetPort in body must be of type integer or string',
  ]);
  const labels = pod();
  (labels.metadata as Record<string, unknown>).labels = { app: 1 };
  assert.deepEqual(render(check(labels)), ['metadata.labels.app: Invalid value: 1: metadata.labels.app in body must be of type string']);
  assert.deepEqual(render(check(pod({ containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: [] } } }] }))), [
    'spec.containers[0].resources.limits.cpu: Invalid value: []: spec.containers[0].resources.limits.cpu in body must be of type string or number',
  ]);
});

test('nulls count as absent and unknown fields pass through', () => {
  const p = pod({ nodeName: null, futureField: { a: 1 } });
  Object.assign(p.metadata, { creationTimestamp: null, labels: null });
  assert.deepEqual(check(p), []);
});

test('admit defaults, validates and throws a 422 with every cause', () => {
  const t = typeOf('Pod');
  const good = pod();
  admit(t, good);
  assert.equal(good.spec.restartPolicy, 'Always');

  const bad: Obj = pod({ containers: [{ name: 'Web' }] });
  bad.metadata.name = 'Foo_bar';
  assert.throws(
    () => admit(t, bad),
    (err: unknown) => {
      assert.ok(err instanceof Invalid);
      const status = toStatus(err);
      assert.equal(status.code, 422);
      assert.equal(status.details?.kind, 'Pod');
      assert.equal(status.details?.name, 'Foo_bar');
      assert.deepEqual(
        status.details?.causes?.map((c) => c.field),
        ['metadata.name', 'spec.containers[0].name', 'spec.containers[0].image'],
      );
      assert.match(status.message, /^Pod "Foo_bar" is invalid: metadata\.name: Invalid value: "Foo_bar"/);
      return true;
    },
  );

  const d = workload('Deployment', { replicas: -2 });
  assert.throws(() => admit(typeOf('Deployment'), d), (err: unknown) => err instanceof Invalid && err.details.group === 'apps');
});

test('admit enforces update rules when the old object is given', () => {
  const t = typeOf('Pod');
  const old = pod();
  admit(t, old);
  const next = pod({ restartPolicy: 'Never' });
  assert.throws(() => admit(t, next, old), Invalid);
  const image = pod();
  image.spec.containers[0].image = 'nginx:1.28';
  assert.doesNotThrow(() => admit(t, image, old));
});

test('validateObject does not mutate its input', () => {
  const p = pod();
  const before = structuredClone(p);
  validateObject(typeOf('Pod'), p);
  assert.deepEqual(p, before);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, fields, pod, render } from './fixtures.ts';

const ctr = (extra: Record<string, unknown> = {}) => ({ name: 'app', image: 'nginx:1.27', ...extra });

test('at least one container', () => {
  assert.deepEqual(render(check(pod({ containers: [] }))), ['spec.containers: Required value']);
});

test('container names: DNS labels, unique across init and app containers', () => {
  assert.deepEqual(fields(check(pod({ containers: [ctr({ name: 'App' })] }))), ['spec.containers[0].name']);
  assert.deepEqual(render(check(pod({ containers: [ctr({ name: '' })] }))), ['spec.containers[0].name: Required value']);
  const dup = check(pod({ initContainers: [ctr({ name: 'web' })], containers: [ctr({ name: 'web' })] }));
  assert.deepEqual(render(dup), ['spec.containers[0].name: Duplicate value: "web"']);
  assert.equal(dup[0]!.reason, 'FieldValueDuplicate');
  assert.deepEqual(check(pod({ initContainers: [ctr({ name: 'init' })], containers: [ctr({ name: 'web' })] })), []);
});

test('image is required and not padded', () => {
  assert.deepEqual(render(check(pod({ containers: [{ name: 'app' }] }))), ['spec.containers[0].image: Required value']);
  assert.deepEqual(fields(check(pod({ containers: [ctr({ image: ' nginx' })] }))), ['spec.containers[0].image']);
  assert.deepEqual(render(check(pod({ initContainers: [{ name: 'i' }] }))), ['spec.initContainers[0].image: Required value']);
});

test('container ports: range, unique IANA names, protocol', () => {
  const bad = check(
    pod({
      containers: [
        ctr({
          ports: [
            { containerPort: 0 },
            { containerPort: 70000 },
            { containerPort: 80, name: 'http' },
            { containerPort: 81, name: 'http' },
            { containerPort: 82, name: 'a-very-long-port-name' },
            { containerPort: 83, protocol: 'HTTP' },
            { containerPort: 84, hostPort: 65536 },
          ],
        }),
      ],
    }),
  );
  assert.deepEqual(render(bad), [
    'spec.containers[0].ports[0].containerPort: Required value',
    'spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.containers[0].ports[3].name: Duplicate value: "http"',
    'spec.containers[0].ports[4].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters',
    'spec.containers[0].ports[5].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    'spec.containers[0].ports[6].hostPort: Invalid value: 65536: must be between 1 and 65535, inclusive',
  ]);
  assert.deepEqual(check(pod({ containers: [ctr({ ports: [{ containerPort: 53, protocol: 'UDP', name: 'dns' }] })] })), []);
});

test('restartPolicy enum, and init containers only accept Always', () => {
  assert.deepEqual(render(check(pod({ restartPolicy: 'Sometimes' }))), [
    'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
  ]);
  assert.deepEqual(check(pod({ restartPolicy: 'OnFailure' })), []);
  assert.deepEqual(render(check(pod({ initContainers: [ctr({ name: 'side', restartPolicy: 'Never' })] }))), [
    'spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always"',
  ]);
  assert.deepEqual(check(pod({ initContainers: [ctr({ name: 'side', restartPolicy: 'Always' })] })), []);
  assert.deepEqual(fields(check(pod({ containers: [ctr({ restartPolicy: 'Always' })] }))), ['spec.containers[0].restartPolicy']);
});

test('env names and valueFrom sources', () => {
  assert.deepEqual(check(pod({ containers: [ctr({ env: [{ name: 'my.var-1', value: 'x' }, { name: '1ST', value: 'y' }] })] })), []);
  const bad = check(
    pod({
      containers: [
        ctr({
          env: [
            { name: 'A=B', value: 'x' },
            { value: 'x' },
            { name: 'C', valueFrom: {} },
            { name: 'D', valueFrom: { fieldRef: { fieldPath: 'metadata.name' }, secretKeyRef: { name: 's', key: 'k' } } },
            { name: 'E', value: 'v', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } },
            { name: 'F', valueFrom: { secretKeyRef: { name: 's', key: 'bad/key' } } },
          ],
        }),
      ],
    }),
  );
  assert.deepEqual(render(bad), [
    `spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
    'spec.containers[0].env[1].name: Required value',
    'spec.containers[0].env[2].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
    'spec.containers[0].env[3].valueFrom: Invalid value: "": may not have more than one field specified at a time',
    'spec.containers[0].env[4].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
    `spec.containers[0].env[5].valueFrom.secretKeyRef.key: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
  ]);
});

test('resources: quantities parse, non-negative, requests <= limits', () => {
  const ok = pod({ containers: [ctr({ resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '0.5', memory: '128Mi' } } })] });
  assert.deepEqual(check(ok), []);
  const bad = check(
    pod({
      containers: [
        ctr({ resources: { requests: { cpu: 'lots', memory: '256Mi' }, limits: { memory: '128Mi', 'nvidia.com/gpu': '-1' } } }),
      ],
    }),
  );
  assert.deepEqual(render(bad), [
    'spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: "-1": must be greater than or equal to 0',
    `spec.containers[0].resources.requests[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    // Defaulting copied the limit into requests, so it is reported there too.
    'spec.containers[0].resources.requests[nvidia.com/gpu]: Invalid value: "-1": must be greater than or equal to 0',
    'spec.containers[0].resources.requests[memory]: Invalid value: "256Mi": must be less than or equal to memory limit of 128Mi',
  ]);
  assert.deepEqual(fields(check(pod({ containers: [ctr({ resources: { limits: { gpu: '1' } } })] }))), [
    'spec.containers[0].resources.limits[gpu]',
    'spec.containers[0].resources.requests[gpu]',
  ]);
});

test('imagePullPolicy enum and terminationGracePeriodSeconds >= 0', () => {
  assert.deepEqual(render(check(pod({ containers: [ctr({ imagePullPolicy: 'Sometimes' })] }))), [
    'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
  ]);
  assert.deepEqual(render(check(pod({ terminationGracePeriodSeconds: -1 }))), [
    'spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0',
  ]);
  assert.deepEqual(check(pod({ terminationGracePeriodSeconds: 0 })), []);
});

test('volumes: unique names; mounts must name an existing volume', () => {
  const bad = check(
    pod({
      volumes: [{ name: 'data', emptyDir: {} }, { name: 'data', emptyDir: {} }, { name: 'Cfg', configMap: { name: 'c' } }],
      containers: [ctr({ volumeMounts: [{ name: 'data', mountPath: '/d' }, { name: 'missing', mountPath: '/m' }, { name: 'data', mountPath: '/d' }] })],
    }),
  );
  assert.deepEqual(fields(bad), [
    'spec.volumes[1].name',
    'spec.volumes[2].name',
    'spec.containers[0].volumeMounts[1].name',
    'spec.containers[0].volumeMounts[2].mountPath',
  ]);
  assert.equal(bad[0]!.message, 'Duplicate value: "data"');
  assert.equal(bad[2]!.message, 'Not found: "missing"');
  const ok = pod({ volumes: [{ name: 'data' }], containers: [ctr({ volumeMounts: [{ name: 'data', mountPath: '/d' }] })] });
  assert.deepEqual(check(ok), []);
});

test('probes need one handler; liveness successThreshold must be 1', () => {
  assert.deepEqual(render(check(pod({ containers: [ctr({ livenessProbe: { periodSeconds: 5 } })] }))), [
    'spec.containers[0].livenessProbe: Required value: must specify a handler type',
  ]);
  assert.deepEqual(render(check(pod({ containers: [ctr({ livenessProbe: { tcpSocket: { port: 80 }, successThreshold: 2 } })] }))), [
    'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
  ]);
  assert.deepEqual(check(pod({ containers: [ctr({ readinessProbe: { httpGet: { port: 'http' }, successThreshold: 2 } })] })), []);
  assert.deepEqual(fields(check(pod({ containers: [ctr({ readinessProbe: { httpGet: { port: 0 } } })] }))), [
    'spec.containers[0].readinessProbe.httpGet.port',
  ]);
});

test('tolerations and other pod-level fields', () => {
  assert.deepEqual(check(pod({ tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }] })), []);
  assert.deepEqual(fields(check(pod({ tolerations: [{ key: 'k', operator: 'Maybe', effect: 'Sometimes' }] }))), [
    'spec.tolerations[0].operator',
    'spec.tolerations[0].effect',
  ]);
  assert.deepEqual(fields(check(pod({ dnsPolicy: 'Anything', nodeName: 'Node_1', activeDeadlineSeconds: 0, nodeSelector: { 'bad key': 'v' } }))), [
    'spec.dnsPolicy',
    'spec.activeDeadlineSeconds',
    'spec.nodeSelector',
    'spec.nodeName',
  ]);
});

test('pod updates may change only images, activeDeadlineSeconds and add tolerations', () => {
  const old = pod({ tolerations: [{ key: 'a', operator: 'Exists' }], activeDeadlineSeconds: 100 });
  const images = pod({ tolerations: [{ key: 'a', operator: 'Exists' }, { key: 'b', operator: 'Exists' }], activeDeadlineSeconds: 50 });
  images.spec.containers[0].image = 'nginx:1.28';
  assert.deepEqual(check(images, old), []);

  const changed = pod({ tolerations: [{ key: 'a', operator: 'Exists' }], activeDeadlineSeconds: 100, restartPolicy: 'Never' });
  const causes = check(changed, old);
  assert.deepEqual(fields(causes), ['spec']);
  assert.equal(causes[0]!.reason, 'FieldValueForbidden');
  assert.match(causes[0]!.message, /^Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);

  const removed = pod({ activeDeadlineSeconds: 100 });
  assert.deepEqual(fields(check(removed, old)), ['spec']);

  const longer = pod({ tolerations: [{ key: 'a', operator: 'Exists' }], activeDeadlineSeconds: 200 });
  assert.deepEqual(render(check(longer, old)), ['spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value']);

  const addContainer = pod({ tolerations: [{ key: 'a', operator: 'Exists' }], activeDeadlineSeconds: 100 });
  addContainer.spec.containers.push(ctr({ name: 'two' }));
  assert.deepEqual(fields(check(addContainer, old)), ['spec']);

  // Without an old object these are plain creates.
  assert.deepEqual(check(changed), []);
});

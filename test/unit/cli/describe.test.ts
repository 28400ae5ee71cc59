import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { describeGeneric, describePod, eventAge, type KubeEvent } from '../../../src/cli/describe.ts';

const now = new Date('2024-01-01T10:10:00Z');

const pod: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', uid: 'u1', labels: { app: 'web', tier: 'fe' }, creationTimestamp: '2024-01-01T10:00:00Z' },
  spec: {
    nodeName: 'node1',
    containers: [
      { name: 'app', image: 'busybox:1', env: [{ name: 'MODE', value: 'prod' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ containerPort: 80 }] },
    ],
  },
  status: {
    phase: 'Running',
    hostIP: '192.168.1.10',
    podIP: '10.244.0.5',
    podIPs: [{ ip: '10.244.0.5' }],
    startTime: '2024-01-01T10:00:00Z',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [
      {
        name: 'app',
        ready: true,
        restartCount: 2,
        image: 'busybox:1',
        imageID: 'sha256:abc',
        containerID: 'docker://123',
        state: { running: { startedAt: '2024-01-01T10:05:00Z' } },
        lastState: { terminated: { exitCode: 137, reason: 'Error', startedAt: '2024-01-01T10:01:00Z', finishedAt: '2024-01-01T10:04:00Z' } },
      },
    ],
  },
};

const events: KubeEvent[] = [
  {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e2' },
    type: 'Warning',
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    count: 3,
    firstTimestamp: '2024-01-01T10:02:00Z',
    lastTimestamp: '2024-01-01T10:05:00Z',
    source: { component: 'kubelet' },
  },
  {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e1' },
    type: 'Normal',
    reason: 'Scheduled',
    message: 'Successfully assigned default/web to node1',
    firstTimestamp: '2024-01-01T10:00:00Z',
    lastTimestamp: '2024-01-01T10:00:00Z',
    source: { component: 'default-scheduler' },
  },
];

test('pod description has the kubectl fields, aligned', () => {
  const text = describePod(pod, events, now);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Name:         web');
  assert.ok(lines.includes('Namespace:    default'));
  assert.ok(lines.includes('Node:         node1/192.168.1.10'));
  assert.ok(lines.includes('Labels:       app=web'));
  assert.ok(lines.includes('              tier=fe'));
  assert.ok(lines.includes('Annotations:  <none>'));
  assert.ok(lines.includes('Status:       Running'));
  assert.ok(lines.includes('IP:           10.244.0.5'));
  assert.ok(lines.includes('  app:'));
  assert.match(text, /\n    Image:\s+busybox:1\n/);
  assert.match(text, /\n    State:\s+Running\n      Started:\s+Mon, 01 Jan 2024 10:05:00 \+0000\n/);
  assert.match(text, /\n    Last State:\s+Terminated\n      Reason:\s+Error\n      Exit Code:\s+137\n/);
  assert.match(text, /\n    Ready:\s+True\n    Restart Count:\s+2\n/);
  assert.match(text, /\n      MODE:\s+prod\n      POD:\s+\(v1:metadata\.name\)\n/);
  assert.match(text, /\nConditions:\n  Type\s+Status\n  Ready\s+True\n/);
});

test('events are sorted oldest first with repeat counts', () => {
  const text = describePod(pod, events, now);
  const evLines = text.slice(text.indexOf('Events:')).trimEnd().split('\n');
  assert.equal(evLines[0], 'Events:');
  assert.match(evLines[1]!, /^  Type\s+Reason\s+Age\s+From\s+Message$/);
  assert.match(evLines[3]!, /^  Normal\s+Scheduled\s+10m\s+default-scheduler\s+Successfully assigned default\/web to node1$/);
  assert.match(evLines[4]!, /^  Warning\s+BackOff\s+5m \(x3 over 8m\)\s+kubelet\s+Back-off/);
  // Columns line up: every row's Reason starts where the header's does.
  const col = evLines[1]!.indexOf('Reason');
  for (const l of evLines.slice(2)) assert.notEqual(l[col - 1], undefined);
  assert.equal(evLines[3]!.indexOf('Scheduled'), col);
});

test('no events prints <none>; a pending pod without statuses still renders', () => {
  const pending: Pod = { ...pod, spec: { containers: [{ name: 'app', image: 'x' }] }, status: {} };
  const text = describePod(pending, [], now);
  assert.match(text, /\nEvents:\s+<none>\n$/);
  assert.match(text, /\nNode:\s+<none>\n/);
  assert.match(text, /\n    State:\s+Waiting\n/);
  assert.match(text, /\n    Environment:\s+<none>\n/);
});

test('generic description: metadata fields, the rest as indented YAML, events', () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default', annotations: { note: 'x' } }, data: { 'a.conf': 'k=v' } };
  const text = describeGeneric(cm, true, [], now);
  assert.match(text, /^Name:\s+cfg\nNamespace:\s+default\nLabels:\s+<none>\nAnnotations:\s+note: x\n/);
  assert.match(text, /\nData:\n  a\.conf: k=v\n/);
  assert.match(text, /\nEvents:\s+<none>\n$/);
});

test('eventAge without repeats is just the age', () => {
  assert.equal(eventAge(events[1]!, now), '10m');
});

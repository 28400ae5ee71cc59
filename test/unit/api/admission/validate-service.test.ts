import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, fields, render, service } from './fixtures.ts';

test('a plain ClusterIP service is valid', () => {
  assert.deepEqual(check(service()), []);
});

test('ports are required unless headless or ExternalName', () => {
  assert.deepEqual(render(check(service({ ports: [] }))), ['spec.ports: Required value']);
  assert.deepEqual(check(service({ ports: [], clusterIP: 'None' })), []);
  assert.deepEqual(check(service({ ports: undefined, type: 'ExternalName', externalName: 'db.example.com' })), []);
});

test('port numbers, names and protocols', () => {
  const causes = check(
    service({
      ports: [
        { name: 'http', port: 0 },
        { name: 'http', port: 81 },
        { port: 82, protocol: 'ICMP' },
        { name: 'Bad_Name', port: 70000, targetPort: 'x--y' },
      ],
    }),
  );
  assert.deepEqual(render(causes), [
    'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    'spec.ports[1].name: Duplicate value: "http"',
    'spec.ports[2].name: Required value',
    'spec.ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    `spec.ports[3].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    'spec.ports[3].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.ports[3].targetPort: Invalid value: "x--y": must not contain consecutive hyphens',
  ]);
  // One unnamed port is fine; named targetPorts are allowed.
  assert.deepEqual(check(service({ ports: [{ port: 80, targetPort: 'http' }] })), []);
});

test('type enum', () => {
  assert.deepEqual(render(check(service({ type: 'Internal' }))), [
    'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
  ]);
});

test('nodePort range and ClusterIP restriction', () => {
  assert.deepEqual(check(service({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })), []);
  assert.deepEqual(render(check(service({ type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }))), [
    'spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
  ]);
  assert.deepEqual(render(check(service({ ports: [{ port: 80, nodePort: 30080 }] }))), [
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  ]);
});

test('ExternalName needs a DNS name', () => {
  assert.deepEqual(render(check(service({ type: 'ExternalName', ports: undefined }))), ['spec.externalName: Required value']);
  assert.deepEqual(fields(check(service({ type: 'ExternalName', externalName: 'not a host' }))), ['spec.externalName']);
  assert.deepEqual(check(service({ type: 'ExternalName', externalName: 'db.example.com.' })), []);
});

test('selector labels, clusterIP and sessionAffinity', () => {
  assert.deepEqual(fields(check(service({ selector: { app: 'we b' } }))), ['spec.selector']);
  assert.deepEqual(fields(check(service({ clusterIP: '10.96.0.300' }))), ['spec.clusterIP']);
  assert.deepEqual(check(service({ clusterIP: '10.96.0.10' })), []);
  assert.deepEqual(fields(check(service({ sessionAffinity: 'Sticky' }))), ['spec.sessionAffinity']);
});

test('an allocated clusterIP cannot change on update', () => {
  const old = service({ clusterIP: '10.96.0.10' });
  assert.deepEqual(render(check(service({ clusterIP: '10.96.0.11' }), old)), ['spec.clusterIP: Invalid value: "10.96.0.11": field is immutable']);
  assert.deepEqual(check(service({ clusterIP: '10.96.0.10' }), old), []);
});

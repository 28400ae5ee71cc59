import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, fields, render, type Obj } from './fixtures.ts';

const cm = (extra: Record<string, unknown>): Obj => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, ...extra });
const secret = (extra: Record<string, unknown>): Obj => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, ...extra });
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('configmap keys', () => {
  assert.deepEqual(check(cm({ data: { 'app.conf': 'x', KEY_1: 'y', '-a.b': 'z' } })), []);
  assert.deepEqual(render(check(cm({ data: { 'a/b': 'x', '..x': 'y' } }))), [
    `data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    `data[..x]: Invalid value: "..x": must not start with '..'`,
  ]);
  assert.deepEqual(fields(check(cm({ data: { a: 'x' }, binaryData: { a: b64('y') } }))), ['binaryData[a]']);
  assert.deepEqual(fields(check(cm({ binaryData: { a: 'not base64!' } }))), ['binaryData[a]']);
});

test('configmap and secret size limit is 1 MiB', () => {
  const big = 'x'.repeat(1024 * 1024 + 1);
  assert.deepEqual(render(check(cm({ data: { a: big } }))), ['data: Too long: may not be more than 1048576 bytes']);
  assert.deepEqual(check(cm({ data: { a: big.slice(2) } })), []);
  assert.deepEqual(render(check(secret({ stringData: { a: big } }))), ['data: Too long: may not be more than 1048576 bytes']);
});

test('secret data must be base64 and keys valid', () => {
  assert.deepEqual(check(secret({ data: { password: b64('hunter2') } })), []);
  const causes = check(secret({ data: { password: 'hunter2', 'bad key': b64('x') } }));
  assert.deepEqual(render(causes), [
    `data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    'data[password]: Invalid value: "<secret contents redacted>": illegal base64 data',
  ]);
  assert.ok(!causes.some((c) => c.message.includes('hunter2')), 'secret values never appear in errors');
});

test('typed secrets need their keys', () => {
  assert.deepEqual(render(check(secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': b64('c') } }))), ['data[tls.key]: Required value']);
  assert.deepEqual(check(secret({ type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'c', 'tls.key': 'k' } })), []);
  assert.deepEqual(fields(check(secret({ type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': '{nope' } }))), ['data[.dockerconfigjson]']);
});

test('immutable configmaps and secrets', () => {
  const old = cm({ data: { a: 'x' }, immutable: true });
  assert.deepEqual(render(check(cm({ data: { a: 'y' }, immutable: true }), old)), ['data: Forbidden: field is immutable when `immutable` is set']);
  assert.deepEqual(fields(check(cm({ data: { a: 'x' } }), old)), ['immutable']);
  assert.deepEqual(check(cm({ data: { a: 'y' } }), cm({ data: { a: 'x' } })), []);
  assert.deepEqual(fields(check(secret({ type: 'Other' }), secret({}))), ['type']);
});

test('events need an involved object', () => {
  const ev = (extra: Record<string, unknown>): Obj => ({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'web.1', namespace: 'default' }, ...extra });
  assert.deepEqual(render(check(ev({}))), ['involvedObject: Required value']);
  assert.deepEqual(check(ev({ involvedObject: { kind: 'Pod', name: 'web', namespace: 'default' }, type: 'Warning' })), []);
  assert.deepEqual(check(ev({ involvedObject: { kind: 'Node', name: 'n1' } })), []);
  assert.deepEqual(fields(check(ev({ involvedObject: { kind: 'Pod', name: 'web', namespace: 'other' } }))), ['involvedObject.namespace']);
  assert.deepEqual(fields(check(ev({ involvedObject: { kind: 'Pod' }, type: 'Bad' }))), ['involvedObject.name', 'type']);
});

test('nodes: name and taints', () => {
  const node = (extra: Record<string, unknown>): Obj => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1.lab' }, ...extra });
  assert.deepEqual(check(node({ spec: { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] } })), []);
  assert.deepEqual(fields(check({ ...node({}), metadata: { name: 'Node_1' } })), ['metadata.name']);
  assert.deepEqual(fields(check(node({ spec: { taints: [{ key: 'k', effect: 'Never' }, { effect: 'NoSchedule' }] } }))), [
    'spec.taints[0].effect',
    'spec.taints[1].key',
  ]);
});

test('namespaces and endpoints', () => {
  const ns: Obj = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' }, spec: { finalizers: ['custom'] } };
  assert.deepEqual(fields(check(ns)), ['spec.finalizers[0]']);
  const ep = (subsets: unknown[]): Obj => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web' }, subsets });
  assert.deepEqual(check(ep([{ addresses: [{ ip: '10.244.1.5' }], ports: [{ port: 80 }] }])), []);
  assert.deepEqual(fields(check(ep([{ addresses: [{ ip: 'x' }], ports: [{ port: 80 }, { name: 'b', port: 0 }] }]))), [
    'subsets[0].addresses[0].ip',
    'subsets[0].ports[0].name',
    'subsets[0].ports[1].port',
  ]);
});

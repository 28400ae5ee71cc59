import { test } from 'node:test';
import assert from 'node:assert/strict';
import { check, fields, pod, render, service, type Obj } from './fixtures.ts';

const ns = (name: string, extra: Record<string, unknown> = {}): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...extra } });

test('a valid object has no causes', () => {
  assert.deepEqual(check(pod()), []);
  assert.deepEqual(check(ns('team-a')), []);
});

test('name or generateName is required', () => {
  const p = pod();
  delete p.metadata.name;
  assert.deepEqual(render(check(p)), ['metadata.name: Required value: name or generateName is required']);
  p.metadata.generateName = 'web-';
  assert.deepEqual(check(p), []);
  p.metadata.generateName = 'Web-';
  assert.deepEqual(fields(check(p)), ['metadata.generateName']);
});

test('pod names are DNS-1123 subdomains with Kubernetes wording', () => {
  const p = pod();
  p.metadata.name = 'Foo_bar';
  const [cause] = check(p);
  assert.equal(cause!.reason, 'FieldValueInvalid');
  assert.equal(cause!.field, 'metadata.name');
  assert.equal(
    cause!.message,
    `Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  );
  p.metadata.name = 'web.v1';
  assert.deepEqual(check(p), []);
  p.metadata.name = 'a'.repeat(254);
  assert.deepEqual(render(check(p)), [`metadata.name: Invalid value: "${'a'.repeat(254)}": must be no more than 253 characters`]);
});

test('namespace names are DNS-1123 labels (63 max, no dots)', () => {
  assert.deepEqual(fields(check(ns('team.a'))), ['metadata.name']);
  assert.match(check(ns('a'.repeat(64)))[0]!.message, /must be no more than 63 characters/);
  assert.deepEqual(check(ns('a'.repeat(63))), []);
});

test('service names are DNS-1035 labels: must start with a letter', () => {
  const s = service();
  s.metadata.name = '1web';
  const causes = check(s);
  assert.deepEqual(fields(causes), ['metadata.name']);
  assert.match(causes[0]!.message, /a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/);
});

test('metadata.namespace must be a DNS label when present', () => {
  const p = pod();
  p.metadata.namespace = 'Bad_NS';
  assert.deepEqual(fields(check(p)), ['metadata.namespace']);
  delete p.metadata.namespace;
  assert.deepEqual(check(p), [], 'namespace may be left to the request path');
});

test('label keys are qualified names and values valid label values', () => {
  const p = pod();
  p.metadata.labels = { app: 'web', 'example.com/tier': 'front_end.1', 'k8s.io/': 'x' };
  // Like Kubernetes, an empty name part also fails the name regex.
  const empty = render(check(p));
  assert.equal(empty.length, 2);
  assert.equal(empty[0], 'metadata.labels: Invalid value: "k8s.io/": name part must be non-empty');
  assert.match(empty[1]!, /^metadata\.labels: Invalid value: "k8s\.io\/": name part must consist of alphanumeric characters/);
  p.metadata.labels = { app: '-web' };
  const causes = check(p);
  assert.deepEqual(fields(causes), ['metadata.labels']);
  assert.match(causes[0]!.message, /^Invalid value: "-web": a valid label must be an empty string or consist of alphanumeric/);
  p.metadata.labels = { app: 'x'.repeat(64) };
  assert.match(check(p)[0]!.message, /must be no more than 63 characters/);
  p.metadata.labels = { 'a/b/c': 'x' };
  assert.match(check(p)[0]!.message, /a qualified name must consist of/);
  p.metadata.labels = { 'Bad_Prefix/x': 'y' };
  assert.match(check(p)[0]!.message, /^Invalid value: "Bad_Prefix\/x": prefix part a lowercase RFC 1123 subdomain/);
  p.metadata.labels = { empty: '' };
  assert.deepEqual(check(p), []);
});

test('annotation keys are qualified names; total size at most 256 KiB', () => {
  const p = pod();
  p.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'Mixed.Case/Key': 'ok' };
  assert.deepEqual(check(p), []);
  p.metadata.annotations = { 'bad key': 'v' };
  assert.deepEqual(fields(check(p)), ['metadata.annotations']);
  p.metadata.annotations = { big: 'x'.repeat(256 * 1024) };
  assert.deepEqual(check(p).map((c) => [c.reason, c.field, c.message]), [
    ['FieldValueTooLong', 'metadata.annotations', 'Too long: may not be more than 262144 bytes'],
  ]);
  p.metadata.annotations = { big: 'x'.repeat(256 * 1024 - 3) };
  assert.deepEqual(check(p), []);
});

test('name and namespace are immutable on update', () => {
  const old = pod();
  const next = pod();
  next.metadata.name = 'other';
  assert.deepEqual(render(check(next, old)), ['metadata.name: Invalid value: "other": field is immutable']);
});

test('validation does not need server-only fields', () => {
  const p = pod();
  assert.equal(p.metadata.uid, undefined);
  assert.equal(p.metadata.resourceVersion, undefined);
  assert.deepEqual(check(p), []);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests, parseManifestText, readSources, type ManifestValidator } from '../../../src/cli/manifests.ts';

const opts = { namespace: 'default', namespaceFromFlag: false };

// Stands in for the server's admission: requires every container to have an image.
const requireImage: ManifestValidator = (type, obj) => {
  if (type.kind !== 'Pod') return [];
  const cs = ((obj.spec as { containers?: { image?: string }[] })?.containers ?? []);
  return cs.flatMap((c, i) => (c.image ? [] : [{ reason: 'FieldValueRequired', field: `spec.containers[${i}].image`, message: 'Required value' }]));
};

test('multi-document YAML, empty documents skipped, numbering by position', () => {
  const text = `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: c, image: busybox}]}
`;
  const { manifests, errors } = loadManifests([{ name: 'x.yaml', text }], opts);
  assert.deepEqual(errors, []);
  assert.deepEqual(manifests.map((m) => [m.doc, m.type.kind, m.object.metadata.namespace]), [
    [1, 'ConfigMap', 'default'],
    [3, 'Pod', 'default'],
  ]);
});

test('the validator error names file, document, object and field on one line', () => {
  const text = `apiVersion: v1
kind: ConfigMap
metadata: {name: ok}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: c
`;
  const { manifests, errors } = loadManifests([{ name: 'examples/bad.yaml', text }], { ...opts, validate: requireImage });
  assert.deepEqual(errors, ['examples/bad.yaml: document 2 (Pod "web"): spec.containers[0].image: Required value']);
  assert.equal(manifests.length, 1);
});

test('the validator sees a copy: defaults do not leak into the applied object', () => {
  const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n';
  const mutating: ManifestValidator = (_t, obj) => {
    obj.metadata.labels = { defaulted: 'yes' };
    return [];
  };
  const { manifests } = loadManifests([{ name: 'x', text }], { ...opts, validate: mutating });
  assert.equal(manifests[0]!.object.metadata.labels, undefined);
});

test('YAML syntax errors report line and column', () => {
  const text = 'apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n';
  const { errors } = parseManifestText('f.yaml', text);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^f\.yaml: document 2: YAML syntax error at line \d+, column \d+: /);
  assert.ok(!errors[0]!.includes('\n'));
});

test('JSON syntax errors report line and column', () => {
  const { errors } = parseManifestText('p.json', '{\n  "apiVersion": "v1",\n  "kind": "Pod"\n  "metadata": {}\n}\n');
  assert.deepEqual(errors, ["p.json: document 1: JSON syntax error at line 4, column 3: Expected ',' or '}' after property value"]);
});

test('JSON documents and kind: List items', () => {
  const list = JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'prod' }, spec: {} },
    ],
  });
  const { manifests, errors } = loadManifests([{ name: 'l.json', text: list }], opts);
  assert.deepEqual(errors, []);
  assert.deepEqual(manifests.map((m) => [m.item, m.type.kind, m.object.metadata.namespace]), [
    [1, 'ConfigMap', 'default'],
    [2, 'Deployment', 'prod'],
  ]);
});

test('unknown kind, missing name, wrong types, duplicates', () => {
  const text = `apiVersion: v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: ConfigMap
metadata: {labels: {a: b}}
---
apiVersion: v1
kind: ConfigMap
metadata: [1]
---
- just a list
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dup}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dup}
`;
  const { errors } = loadManifests([{ name: 'm.yaml', text }], opts);
  assert.deepEqual(errors, [
    'm.yaml: document 1 (Widget "w"): no kind "Widget" is registered for version "v1"',
    'm.yaml: document 2 (ConfigMap): metadata.name: Required value',
    'm.yaml: document 3 (ConfigMap): metadata: Invalid value: expected a mapping, got list',
    'm.yaml: document 4: expected a mapping with apiVersion and kind, got a list',
    'm.yaml: document 6 (ConfigMap "dup"): metadata.name: Duplicate value: also defined in m.yaml: document 5 (ConfigMap "dup")',
  ]);
});

test('-n that disagrees with the manifest namespace is an error', () => {
  const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: prod}\n';
  const { errors } = loadManifests([{ name: 'x', text }], { namespace: 'dev', namespaceFromFlag: true });
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /metadata\.namespace: the namespace from the provided object "prod" does not match the namespace "dev"/);
});

test('YAML 1.1 as kubectl reads it: octal modes', () => {
  const { manifests } = parseManifestText('x', 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {mode: 0644}\n');
  assert.equal((manifests[0]!.value as { spec: { mode: number } }).spec.mode, 0o644);
});

test('directories give their manifest files in sorted order; missing paths are clear', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-mf-'));
  try {
    await mkdir(join(dir, 'd'));
    await writeFile(join(dir, 'd', 'b.yaml'), 'b');
    await writeFile(join(dir, 'd', 'a.json'), 'a');
    await writeFile(join(dir, 'd', 'c.yml'), 'c');
    await writeFile(join(dir, 'd', 'notes.txt'), 'n');
    const sources = await readSources([join(dir, 'd'), '-'], async () => 'stdin-text');
    assert.deepEqual(sources.map((s) => s.text), ['a', 'b', 'c', 'stdin-text']);
    assert.equal(sources[3]!.name, '<stdin>');
    await assert.rejects(readSources([join(dir, 'nope.yaml')], async () => ''), /the path ".*nope.yaml" does not exist/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

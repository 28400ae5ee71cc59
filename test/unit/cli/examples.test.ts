// The manifests in examples/ are what users copy first: each must pass the
// server's own defaulting and validation, as `mesh apply` checks them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadManifests } from '../../../src/cli/manifests.ts';
import { loadAdmissionValidator } from '../../../src/cli/admission-validator.ts';

const EXAMPLES = join(import.meta.dirname, '../../../examples');

test('every example manifest passes admission', async () => {
  const validate = await loadAdmissionValidator();
  const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(files.length >= 4, `examples: ${files.join(', ')}`);
  const kinds = new Set<string>();
  for (const f of files) {
    const text = await readFile(join(EXAMPLES, f), 'utf8');
    const { manifests, errors } = loadManifests([{ name: `examples/${f}`, text }], { namespace: 'default', namespaceFromFlag: false, validate });
    assert.deepEqual(errors, [], f);
    assert.ok(manifests.length > 0, `${f} has no objects`);
    for (const m of manifests) kinds.add(m.type.kind);
  }
  for (const k of ['Pod', 'Service', 'StatefulSet', 'CronJob', 'Deployment', 'HorizontalPodAutoscaler']) assert.ok(kinds.has(k), `no example of a ${k}`);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable } from '../../../../src/agent/api/table/index.ts';
import { findByKey } from '../../../../src/agent/api/resources.ts';
import type { KubeObject } from '../../../../src/agent/api/object-types.ts';

const NOW = new Date('2025-03-01T12:00:00Z');

function rows(key: string, objs: KubeObject[]): Record<string, unknown>[] {
  const t = findByKey(key);
  assert.ok(t, key);
  const table = renderTable(t, objs, { includeObject: 'None', now: NOW });
  return table.rows.map((r) => Object.fromEntries(table.columnDefinitions.map((c, i) => [c.name, r.cells[i]])));
}

test('controllerrevisions print NAME CONTROLLER REVISION AGE', () => {
  const t = findByKey('controllerrevisions.apps')!;
  const table = renderTable(t, [], { includeObject: 'None', now: NOW });
  assert.deepEqual(table.columnDefinitions.map((c) => c.name), ['Name', 'Controller', 'Revision', 'Age']);
  const rev = (name: string, refs: KubeObject['metadata']['ownerReferences'], revision: number): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: { name, namespace: 'default', creationTimestamp: new Date(NOW.getTime() - 3 * 60_000).toISOString(), ownerReferences: refs },
    revision,
  });
  assert.deepEqual(
    rows('controllerrevisions.apps', [
      rev('web-7c9f8', [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u1', controller: true }], 3),
      rev('loose-1', undefined, 1),
      rev('core-1', [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u2', controller: true }], 2),
    ]),
    [
      { Name: 'web-7c9f8', Controller: 'statefulset.apps/web', Revision: 3, Age: '3m' },
      { Name: 'loose-1', Controller: '<none>', Revision: 1, Age: '3m' },
      { Name: 'core-1', Controller: 'pod/p', Revision: 2, Age: '3m' },
    ],
  );
});

// discovery.k8s.io/v1 EndpointSlices over the real HTTPS server: discovery as
// kubectl reads it, admission (defaults and validation), and Table printing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, startHarness, type Harness } from './server-harness.ts';
import { renderTable } from '../../../src/agent/api/table/index.ts';
import { findByKey, findByUserName } from '../../../src/agent/api/resources.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';
const SLICES = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

function slice(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints: [{ addresses: ['10.244.1.5'], conditions: { ready: true } }],
    ...extra,
  };
}

test('discovery lists discovery.k8s.io/v1 with endpointslices, as kubectl reads it', async () => {
  const apis = await call(h, '/apis');
  const group = apis.json.groups.find((g: any) => g.name === 'discovery.k8s.io');
  assert.ok(group, JSON.stringify(apis.json.groups.map((g: any) => g.name)));
  assert.deepEqual(group.versions, [{ groupVersion: 'discovery.k8s.io/v1', version: 'v1' }]);
  assert.equal(group.preferredVersion.groupVersion, 'discovery.k8s.io/v1');
  const doc = await call(h, '/apis/discovery.k8s.io');
  assert.equal(doc.json.kind, 'APIGroup');
  const list = await call(h, '/apis/discovery.k8s.io/v1');
  assert.equal(list.json.groupVersion, 'discovery.k8s.io/v1');
  const r = list.json.resources.find((x: any) => x.name === 'endpointslices');
  assert.deepEqual(
    { kind: r.kind, singularName: r.singularName, namespaced: r.namespaced, shortNames: r.shortNames },
    { kind: 'EndpointSlice', singularName: 'endpointslice', namespaced: true, shortNames: undefined },
  );
  assert.ok(r.verbs.includes('watch') && r.verbs.includes('create'));
  assert.equal(findByUserName('endpointslices')?.group, 'discovery.k8s.io');
});

test('an EndpointSlice is created with defaults, listed by label and printed as a Table', async () => {
  const created = await call(h, SLICES, { method: 'POST', body: slice('web-abc') });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.equal(created.json.metadata.generation, undefined, 'no spec, no generation');
  const listed = await call(h, `${SLICES}?labelSelector=kubernetes.io%2Fservice-name%3Dweb`);
  assert.equal(listed.json.kind, 'EndpointSliceList');
  assert.deepEqual(listed.json.items.map((i: any) => i.metadata.name), ['web-abc']);
  const table = await call(h, SLICES, { headers: { Accept: TABLE_ACCEPT } });
  assert.equal(table.json.kind, 'Table');
  assert.deepEqual(table.json.columnDefinitions.map((c: any) => c.name), ['Name', 'AddressType', 'Ports', 'Endpoints', 'Age']);
  const row = table.json.rows.find((r: any) => r.cells[0] === 'web-abc');
  assert.deepEqual(row.cells.slice(0, 4), ['web-abc', 'IPv4', '8080', '10.244.1.5']);
});

test('admission refuses bad address types, endpoints without addresses and wrong-family addresses', async () => {
  const r = await call(h, SLICES, {
    method: 'POST',
    body: slice('bad', {
      addressType: 'IP',
      endpoints: [{ addresses: [] }],
      ports: [{ name: 'Bad_Name', port: 70000, protocol: 'ICMP' }],
    }),
  });
  assert.equal(r.status, 422, r.text);
  const fields = r.json.details.causes.map((c: any) => c.field).sort();
  assert.deepEqual(fields, ['addressType', 'endpoints[0].addresses', 'ports[0].name', 'ports[0].port', 'ports[0].protocol']);
  assert.equal(r.json.details.group, 'discovery.k8s.io');
  const missing = await call(h, SLICES, { method: 'POST', body: { ...slice('nat'), addressType: undefined } });
  assert.equal(missing.status, 422);
  assert.deepEqual(missing.json.details.causes.map((c: any) => [c.field, c.reason]), [['addressType', 'FieldValueRequired']]);
  const v6 = await call(h, SLICES, { method: 'POST', body: slice('v6', { endpoints: [{ addresses: ['fd00::1'] }] }) });
  assert.equal(v6.status, 422);
  assert.deepEqual(v6.json.details.causes.map((c: any) => c.field), ['endpoints[0].addresses[0]']);
  const dup = await call(h, SLICES, { method: 'POST', body: slice('dup', { ports: [{ name: 'a', port: 1 }, { name: 'a', port: 2 }] }) });
  assert.equal(dup.status, 422);
  assert.deepEqual(dup.json.details.causes.map((c: any) => [c.field, c.reason]), [['ports[1].name', 'FieldValueDuplicate']]);
});

test('addressType is immutable', async () => {
  const created = await call(h, SLICES, { method: 'POST', body: slice('imm') });
  assert.equal(created.status, 201);
  const r = await call(h, `${SLICES}/imm`, { method: 'PUT', body: { ...created.json, addressType: 'FQDN', endpoints: [{ addresses: ['a.example'] }] } });
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.json.details.causes.map((c: any) => c.field), ['addressType']);
});

test('the Table printers list at most three ports and addresses, and mark empty slices <unset>', () => {
  const t = findByKey('endpointslices.discovery.k8s.io')!;
  const obj = (o: Record<string, unknown>): KubeObject => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's' }, addressType: 'IPv4', ...o });
  const cells = (o: KubeObject) => renderTable(t, [o], { includeObject: 'None' }).rows[0]!.cells;
  const many = obj({
    ports: [{ port: 1 }, { name: 'named' }, {}, { port: 4 }],
    endpoints: [{ addresses: ['10.0.0.1', '10.0.0.2'] }, { addresses: ['10.0.0.3'] }, { addresses: ['10.0.0.4'] }, { addresses: ['10.0.0.5'] }],
  });
  assert.deepEqual(cells(many).slice(2, 4), ['1,named,* + 1 more...', '10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...']);
  assert.deepEqual(cells(obj({})).slice(1, 4), ['IPv4', '<unset>', '<unset>']);
  const ep = findByKey('endpoints')!;
  const epTable = renderTable(ep, [{ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.0.0.9' }], ports: [{ port: 80 }] }] }], { includeObject: 'None' });
  assert.deepEqual(epTable.columnDefinitions.map((c) => c.name), ['Name', 'Endpoints', 'Age']);
  assert.equal(epTable.rows[0]!.cells[1], '10.0.0.9:80');
});

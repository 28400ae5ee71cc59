import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  exactFieldValue,
  labelSelectorFromObject,
  parseFieldSelector,
  parseLabelSelector,
} from '../../../src/agent/api/selectors.ts';
import { BadRequest } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';

const web = { app: 'web', tier: 'front', env: 'prod' };
const db = { app: 'db', tier: 'back' };
const bare = {};

function sel(s: string): (labels: Record<string, string> | undefined) => boolean {
  const p = parseLabelSelector(s);
  return (l) => p.matches(l);
}

test('empty label selector matches everything', () => {
  const p = parseLabelSelector('   ');
  assert.equal(p.empty, true);
  assert.equal(p.matches(web), true);
  assert.equal(p.matches(undefined), true);
});

test('equality: =, == and !=', () => {
  assert.equal(sel('app=web')(web), true);
  assert.equal(sel('app=web')(db), false);
  assert.equal(sel('app==db')(db), true);
  assert.equal(sel('app==db')(web), false);
  assert.equal(sel('app!=web')(db), true);
  assert.equal(sel('app!=web')(web), false);
  // != also matches objects without the label, as in Kubernetes.
  assert.equal(sel('app!=web')(bare), true);
  assert.equal(parseLabelSelector('app=web').empty, false);
});

test('set-based: in and notin', () => {
  assert.equal(sel('tier in (front, middle)')(web), true);
  assert.equal(sel('tier in (front,middle)')(db), false);
  assert.equal(sel('tier in (front)')(bare), false);
  assert.equal(sel('tier notin (front)')(db), true);
  assert.equal(sel('tier notin (front)')(web), false);
  assert.equal(sel('tier notin (front)')(bare), true);
});

test('existence: a and !a', () => {
  assert.equal(sel('env')(web), true);
  assert.equal(sel('env')(db), false);
  assert.equal(sel('!env')(db), true);
  assert.equal(sel('!env')(web), false);
  assert.equal(sel('!env')(undefined), true);
});

test('comma is AND, whitespace is tolerated', () => {
  const s = sel('  app = web ,tier!=back, env in ( prod , staging ),!legacy ');
  assert.equal(s(web), true);
  assert.equal(s({ ...web, legacy: 'yes' }), false);
  assert.equal(s({ ...web, env: 'dev' }), false);
  assert.equal(s(db), false);
});

test('gt and lt compare integers', () => {
  assert.equal(sel('gen>2')({ gen: '3' }), true);
  assert.equal(sel('gen>2')({ gen: '2' }), false);
  assert.equal(sel('gen<2')({ gen: '1' }), true);
  assert.equal(sel('gen<2')({ gen: 'x' }), false);
});

test('prefixed keys and empty values', () => {
  assert.equal(sel('app.kubernetes.io/name=web')({ 'app.kubernetes.io/name': 'web' }), true);
  assert.equal(sel('a=')({ a: '' }), true);
  assert.equal(sel('a=')({ a: 'x' }), false);
});

test('canonical string form sorts by key', () => {
  assert.equal(parseLabelSelector('tier in (b,a),app==web,!x,y').toString(), 'app=web,tier in (a,b),!x,y');
});

function badRequest(s: string, mentions: string): void {
  assert.throws(
    () => parseLabelSelector(s),
    (err: unknown) => err instanceof BadRequest && err.message.includes(mentions),
    `selector ${JSON.stringify(s)} should be rejected mentioning ${mentions}`,
  );
}

test('syntax errors are BadRequest naming the bad part', () => {
  badRequest('app=web,', "found 'end of string'");
  badRequest('app in web', "found 'web'");
  badRequest('app in ()', "values set can't be empty");
  badRequest('app in (a b)', "found 'b'");
  badRequest('app=web=x', "found '='");
  badRequest('=web', "found '='");
  badRequest('a,,b', "found ','");
  badRequest('gen>x', "found 'x'");
  badRequest('!', "found 'end of string'");
});

test('invalid keys and values are BadRequest naming them', () => {
  badRequest('-app=web', '"-app"');
  badRequest('Example.com/app=web', 'prefix');
  badRequest('a/b/c=1', 'at most one');
  badRequest(`${'k'.repeat(64)}=v`, '63');
  badRequest('app=-web', '"-web"');
  badRequest(`app in (ok,${'v'.repeat(64)})`, '63');
});

test('labelSelectorFromObject: matchLabels and each operator', () => {
  const s = labelSelectorFromObject({
    matchLabels: { app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'In', values: ['front', 'middle'] },
      { key: 'env', operator: 'NotIn', values: ['dev'] },
      { key: 'team', operator: 'Exists' },
      { key: 'legacy', operator: 'DoesNotExist' },
    ],
  });
  assert.equal(s.matches({ app: 'web', tier: 'front', team: 'x' }), true);
  assert.equal(s.matches({ app: 'web', tier: 'front', team: 'x', env: 'dev' }), false);
  assert.equal(s.matches({ app: 'web', tier: 'back', team: 'x' }), false);
  assert.equal(s.matches({ app: 'web', tier: 'front' }), false);
  assert.equal(s.matches({ app: 'web', tier: 'front', team: 'x', legacy: '1' }), false);
  assert.equal(s.toString(), 'app=web,env notin (dev),!legacy,team,tier in (front,middle)');
});

test('labelSelectorFromObject: empty selects all, absent selects none, bad operators throw', () => {
  assert.equal(labelSelectorFromObject({}).matches({ a: 'b' }), true);
  assert.equal(labelSelectorFromObject({}).empty, true);
  assert.equal(labelSelectorFromObject(undefined).matches({ a: 'b' }), false);
  assert.equal(labelSelectorFromObject(null).matches({}), false);
  assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] }), /Equals/);
  assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), BadRequest);
  assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), BadRequest);
  assert.throws(() => labelSelectorFromObject({ matchLabels: { 'bad key': 'x' } }), BadRequest);
});

function pod(name: string, nodeName: string | undefined, phase: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName, restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default', containers: [] },
    status: { phase, podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }] },
  };
}

test('field selector on pods: =, ==, != and AND', () => {
  const a = pod('a', 'n1', 'Running');
  const b = pod('b', 'n2', 'Pending');
  const c = pod('c', undefined, 'Pending');
  const onN1 = parseFieldSelector('spec.nodeName=n1', 'pods');
  assert.deepEqual([a, b, c].filter((p) => onN1.matches(p)).map((p) => p.metadata.name), ['a']);
  const unscheduled = parseFieldSelector('spec.nodeName==', 'pods');
  assert.deepEqual([a, b, c].filter((p) => unscheduled.matches(p)).map((p) => p.metadata.name), ['c']);
  const notRunning = parseFieldSelector('status.phase!=Running,metadata.namespace=default', 'pods');
  assert.deepEqual([a, b, c].filter((p) => notRunning.matches(p)).map((p) => p.metadata.name), ['b', 'c']);
  assert.equal(parseFieldSelector('status.podIP=10.244.1.5', 'pods').matches(a), true);
  assert.equal(parseFieldSelector('spec.restartPolicy=Never', 'pods').matches(a), false);
  assert.equal(parseFieldSelector('spec.schedulerName=default-scheduler,spec.serviceAccountName=default', 'pods').matches(a), true);
  assert.equal(parseFieldSelector('metadata.name=b', 'pods').matches(b), true);
  assert.equal(exactFieldValue(onN1, 'spec.nodeName'), 'n1');
  assert.equal(exactFieldValue(notRunning, 'status.phase'), undefined);
});

test('field selector on events, secrets and nodes', () => {
  const ev: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web-1.abc', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u1' },
    reason: 'Pulled',
    type: 'Normal',
  };
  assert.equal(parseFieldSelector('involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.uid=u1', 'events').matches(ev), true);
  assert.equal(parseFieldSelector('reason=Pulled,type!=Warning', 'events').matches(ev), true);
  assert.equal(parseFieldSelector('type=Warning', 'events').matches(ev), false);
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'kubernetes.io/tls' };
  assert.equal(parseFieldSelector('type=kubernetes.io/tls', 'secrets').matches(secret), true);
  const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: {} };
  assert.equal(parseFieldSelector('spec.unschedulable=false', 'nodes').matches(node), true);
  assert.equal(parseFieldSelector('spec.unschedulable=true', 'nodes').matches({ ...node, spec: { unschedulable: true } }), true);
});

test('field selector escapes and empty selector', () => {
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a,b=c' } };
  assert.equal(parseFieldSelector('metadata.name=a\\,b\\=c', 'configmaps').matches(cm), true);
  const empty = parseFieldSelector('', 'configmaps');
  assert.equal(empty.empty, true);
  assert.equal(empty.matches(cm), true);
});

test('field selector errors', () => {
  assert.throws(
    () => parseFieldSelector('spec.nodeName=n1', 'configmaps'),
    (err: unknown) => err instanceof BadRequest && err.message === 'field label not supported: spec.nodeName',
  );
  assert.throws(
    () => parseFieldSelector('status.phase=Running,spec.bogus=1', 'pods'),
    (err: unknown) => err instanceof BadRequest && err.message === 'field label not supported: spec.bogus',
  );
  assert.throws(() => parseFieldSelector('metadata.name', 'pods'), (err: unknown) => err instanceof BadRequest && /metadata\.name/.test(err.message));
  assert.throws(() => parseFieldSelector('metadata.name=a\\x', 'pods'), BadRequest);
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequest } from '../../../src/agent/api/errors.ts';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';
import { RESOURCE_TYPES, findByKey, findByPath, servedVersions, type ResourceType } from '../../../src/agent/api/resources.ts';
import { BUILT_IN_CONVERTERS, converterKey, createVersionConversions } from '../../../src/agent/api/version-conversion.ts';

const hpaType = findByKey('horizontalpodautoscalers.autoscaling')!;
const v1Hpa: KubeObject = {
  apiVersion: 'autoscaling/v1',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name: 'web' },
  spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 3, targetCPUUtilizationPercentage: 50 },
};

describe('version conversions', () => {
  it('every alternate version of every type has a converter', () => {
    const alternates = RESOURCE_TYPES.flatMap((t) => (t.alternateVersions ?? []).map((v) => converterKey(t, v)));
    assert.ok(alternates.includes('horizontalpodautoscalers.autoscaling/v1'));
    for (const key of alternates) assert.ok(BUILT_IN_CONVERTERS[key], key);
  });

  it('HPAs are found under both versions, the stored one first', () => {
    assert.deepEqual(servedVersions(hpaType), ['v2', 'v1']);
    assert.equal(findByPath('autoscaling', 'v1', 'horizontalpodautoscalers'), hpaType);
    assert.equal(findByPath('autoscaling', 'v2', 'horizontalpodautoscalers'), hpaType);
    assert.equal(findByPath('autoscaling', 'v3', 'horizontalpodautoscalers'), undefined);
  });

  it('the stored version is served as is', () => {
    const view = createVersionConversions().view(hpaType);
    assert.equal(view.stored, true);
    assert.equal(view.apiVersion, 'autoscaling/v2');
    const obj = { ...v1Hpa, apiVersion: 'autoscaling/v2' };
    assert.equal(view.toServed(obj), obj);
    assert.equal(view.toStored(obj), obj);
  });

  it('an alternate version converts both ways and sets apiVersion', () => {
    const view = createVersionConversions().view(hpaType, 'v1');
    assert.equal(view.stored, false);
    assert.equal(view.apiVersion, 'autoscaling/v1');
    const stored = view.toStored(v1Hpa);
    assert.equal(stored.apiVersion, 'autoscaling/v2');
    assert.equal(Object.keys(stored)[0], 'apiVersion');
    assert.equal((stored.spec as any).metrics[0].resource.target.averageUtilization, 50);
    const served = view.toServed(stored);
    assert.equal(served.apiVersion, 'autoscaling/v1');
    assert.equal((served.spec as any).targetCPUUtilizationPercentage, 50);
  });

  it('a body naming another apiVersion than the path is rejected, as by the registry', () => {
    const view = createVersionConversions().view(hpaType, 'v1');
    assert.throws(() => view.toStored({ ...v1Hpa, apiVersion: 'autoscaling/v2' }), (err: unknown) => {
      assert.ok(err instanceof BadRequest);
      assert.match(err.message, /\(autoscaling\/v2\) does not match the expected API version \(autoscaling\/v1\)/);
      return true;
    });
    // No apiVersion at all is the path's.
    const { apiVersion: _drop, ...bare } = v1Hpa;
    assert.equal(view.toStored(bare as KubeObject).apiVersion, 'autoscaling/v2');
  });

  it('an alternate version without a converter is refused at construction', () => {
    const widget: ResourceType = { ...hpaType, group: 'example.com', plural: 'widgets', kind: 'Widget', alternateVersions: ['v0'] };
    assert.throws(() => createVersionConversions({ converters: {}, types: [widget] }), /no converter for widgets\.example\.com v0/);
    const conversions = createVersionConversions({ converters: {}, types: [] });
    assert.throws(() => conversions.view(widget, 'v0'), /no converter/);
  });
});

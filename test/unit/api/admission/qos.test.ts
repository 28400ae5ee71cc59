import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podQosClass } from '../../../../src/agent/api/admission/index.ts';

const c = (requests?: Record<string, string>, limits?: Record<string, string>) => ({ resources: { requests, limits } });

test('no cpu or memory anywhere is BestEffort', () => {
  assert.equal(podQosClass({ containers: [{}] }), 'BestEffort');
  assert.equal(podQosClass({ containers: [c({ 'example.com/gpu': '1' })] }), 'BestEffort');
  assert.equal(podQosClass({ containers: [c({ cpu: '0' })] }), 'BestEffort');
});

test('equal cpu and memory requests and limits on every container is Guaranteed', () => {
  const full = c({ cpu: '500m', memory: '128Mi' }, { cpu: '0.5', memory: '128Mi' });
  assert.equal(podQosClass({ containers: [full, full] }), 'Guaranteed');
  assert.equal(podQosClass({ containers: [full], initContainers: [full] }), 'Guaranteed');
});

test('anything in between is Burstable', () => {
  assert.equal(podQosClass({ containers: [c({ cpu: '100m' })] }), 'Burstable');
  assert.equal(podQosClass({ containers: [c({ cpu: '100m', memory: '1Gi' }, { cpu: '200m', memory: '1Gi' })] }), 'Burstable');
  // Only a cpu limit: memory limit missing.
  assert.equal(podQosClass({ containers: [c({ cpu: '1' }, { cpu: '1' })] }), 'Burstable');
  // One guaranteed container and one best-effort container.
  const full = c({ cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' });
  assert.equal(podQosClass({ containers: [full, {}] }), 'Burstable');
});

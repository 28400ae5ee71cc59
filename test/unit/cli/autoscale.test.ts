// `mesh autoscale` against a real API server (admission included).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, type Harness } from '../api/server-harness.ts';
import { renderKubeconfig } from '../../../src/agent/api/kubeconfig.ts';
import { runCli } from '../../../src/cli/run.ts';
import type { HorizontalPodAutoscaler } from '../../../src/agent/controllers/hpa-types.ts';

let h: Harness;
let kubeconfig: string;

before(async () => {
  h = await startHarness();
  kubeconfig = join(h.dir, 'kubeconfig');
  await writeFile(kubeconfig, renderKubeconfig({ server: h.server.url(), caPem: h.pki.caCertPem, token: h.pki.adminToken, clusterName: 'c', userName: 'u' }));
  await h.registry.create('deployments.apps', {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
  });
});

after(async () => {
  await h.close();
});

async function mesh(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(['--kubeconfig', kubeconfig, ...args], { stdout: { write: (s) => (out += String(s)) }, stderr: { write: (s) => (err += String(s)) }, env: {} });
  return { code, out, err };
}

test('mesh autoscale creates the HPA kubectl autoscale would', async () => {
  const r = await mesh('autoscale', 'deployment/web', '--min', '2', '--max', '5', '--cpu-percent', '50');
  assert.deepEqual([r.code, r.out, r.err], [0, 'horizontalpodautoscaler.autoscaling/web autoscaled\n', '']);
  const hpa = h.registry.get<HorizontalPodAutoscaler>('horizontalpodautoscalers.autoscaling', 'default', 'web')!;
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' });
  assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [2, 5]);
  assert.deepEqual(hpa.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }]);

  // Without --cpu-percent the server's default target (80%) applies; --name picks the HPA's name.
  const d = await mesh('autoscale', 'deploy', 'web', '--max', '3', '--name', 'web-default');
  assert.equal(d.code, 0, d.err);
  const dflt = h.registry.get<HorizontalPodAutoscaler>('horizontalpodautoscalers.autoscaling', 'default', 'web-default')!;
  assert.equal(dflt.spec.metrics?.[0]?.resource?.target.averageUtilization, 80);
  assert.equal(dflt.spec.minReplicas, 1);
});

test('mesh autoscale refuses bad flags and targets before creating anything', async () => {
  const before = h.registry.list('horizontalpodautoscalers.autoscaling').items.length;
  assert.match((await mesh('autoscale', 'deployment/web', '--max', '0')).err, /--max=MAXPODS is required and must be at least 1/);
  assert.match((await mesh('autoscale', 'deployment/web', '--min', '4', '--max', '3')).err, /must be larger or equal to --min/);
  assert.match((await mesh('autoscale', 'deployment/web', '--max', 'x')).err, /invalid --max "x"/);
  assert.match((await mesh('autoscale', 'daemonset/web', '--max', '3')).err, /cannot autoscale a DaemonSet/);
  const missing = await mesh('autoscale', 'deployment/nope', '--max', '3');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /not found/);
  assert.equal(h.registry.list('horizontalpodautoscalers.autoscaling').items.length, before);
});

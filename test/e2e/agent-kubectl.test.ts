// The foundation's "done when", end to end: a real agent process on real
// Docker, driven by the real kubectl and by the mesh CLI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl, mesh, startAgentProcess, waitFor, type AgentProcess } from '../support/agent-process.ts';

const IMAGE = 'mesh.local/busybox:latest';

function podManifest(name: string, image: string, extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: { app: ${name} }
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: main
      image: ${image}
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "echo started $POD_NAME; trap 'echo got SIGTERM; exit 0' TERM; while true; do sleep 1; done"]
      env:
        - name: POD_NAME
          valueFrom: { fieldRef: { fieldPath: metadata.name } }
${extra}`;
}

describe('agent with kubectl and mesh on real Docker', () => {
  let agent: AgentProcess;
  let dir: string;

  before(async () => {
    agent = await startAgentProcess({ prefix: 'e2e-kubectl' });
    dir = await mkdtemp(join(tmpdir(), 'mesh-manifests-'));
  });
  after(async () => {
    await agent?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('kubectl apply creates, a second apply updates, and get/yaml/describe/logs/delete work', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, podManifest('web', IMAGE));
    const created = await kubectl(agent, ['apply', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /pod\/web created/);

    await waitFor('pod web Running', async () => {
      const r = await kubectl(agent, ['get', 'pod', 'web', '--no-headers']);
      return /\b1\/1\s+Running\s+0\b/.test(r.stdout);
    });

    const table = await kubectl(agent, ['get', 'pods']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout.split('\n')[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);

    // A second apply with a changed label updates the object in place.
    await writeFile(file, podManifest('web', IMAGE).replace('labels: { app: web }', 'labels: { app: web, tier: front }'));
    const updated = await kubectl(agent, ['apply', '-f', file]);
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /pod\/web configured/);
    const labels = await kubectl(agent, ['get', 'pods', '-l', 'tier=front', '-o', 'name']);
    assert.equal(labels.stdout.trim(), 'pod/web');

    const yaml = await kubectl(agent, ['get', 'pod', 'web', '-o', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /uid: [0-9a-f-]{36}/);
    assert.match(yaml.stdout, /podIP: \d+\.\d+\.\d+\.\d+/);
    assert.match(yaml.stdout, /restartPolicy: Always/);

    const describe = await kubectl(agent, ['describe', 'pod', 'web']);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /Status:\s+Running/);
    assert.match(describe.stdout, /Scheduled/);

    const logs = await waitFor('logs', async () => {
      const r = await kubectl(agent, ['logs', 'web']);
      return r.stdout.includes('started web') && r;
    });
    assert.equal(logs.code, 0);

    const del = await kubectl(agent, ['delete', 'pod', 'web']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /pod "web" deleted/);
    const gone = await kubectl(agent, ['get', 'pod', 'web']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound|not found/);
  });

  it('mesh apply, get, describe, logs and delete work and bad manifests get clear errors', async () => {
    const file = join(dir, 'cli.yaml');
    await writeFile(file, podManifest('cli-pod', IMAGE));
    const applied = await mesh(agent, ['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /pod\/cli-pod created/);
    await waitFor('cli-pod Running', async () => /Running/.test((await mesh(agent, ['get', 'pods'])).stdout));
    const get = await mesh(agent, ['get', 'pods', '-o', 'wide']);
    assert.match(get.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/m);
    assert.match(get.stdout, new RegExp(`cli-pod\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+\\d+\\.\\d+\\.\\d+\\.\\d+\\s+${agent.nodeName}`));
    const desc = await mesh(agent, ['describe', 'pod', 'cli-pod']);
    assert.match(desc.stdout, /Node:\s+/);
    assert.match(desc.stdout, /Events:/);
    const logs = await waitFor('cli logs', async () => {
      const r = await mesh(agent, ['logs', 'cli-pod']);
      return r.stdout.includes('started cli-pod') && r;
    });
    assert.equal(logs.code, 0);

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\nspec:\n  containers: [{name: a, image: x}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containers:\n    - name: a\n');
    const missingImage = await mesh(agent, ['apply', '-f', bad]);
    assert.equal(missingImage.code, 1);
    assert.match(missingImage.stderr, /bad\.yaml/);
    assert.match(missingImage.stderr, /document 2/);
    assert.match(missingImage.stderr, /spec\.containers\[0\]\.image/);
    // Nothing was applied: the valid first document was not created either.
    assert.equal((await agent.api('GET', '/api/v1/namespaces/default/pods/ok')).status, 404);

    await writeFile(bad, 'kind: Pod\napiVersion: v1\nmetadata: {name: [unclosed\n');
    const malformed = await mesh(agent, ['apply', '-f', bad]);
    assert.equal(malformed.code, 1);
    assert.match(malformed.stderr, /bad\.yaml/);

    await writeFile(bad, 'apiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n');
    const unknownKind = await mesh(agent, ['apply', '-f', bad]);
    assert.equal(unknownKind.code, 1);
    assert.match(unknownKind.stderr, /Gizmo/);

    await writeFile(bad, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\ndata: {k: v}\n');
    const noName = await mesh(agent, ['apply', '-f', bad]);
    assert.equal(noName.code, 1);
    assert.match(noName.stderr, /metadata\.name/);

    await writeFile(bad, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: three\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: x}]}\n');
    const wrongType = await mesh(agent, ['apply', '-f', bad]);
    assert.equal(wrongType.code, 1);
    assert.match(wrongType.stderr, /spec\.replicas/);

    const del = await mesh(agent, ['delete', 'pod', 'cli-pod']);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /pod "cli-pod" deleted/);
    assert.equal((await agent.api('GET', '/api/v1/namespaces/default/pods/cli-pod')).status, 404);
  });

  it('kubectl writes an HPA through autoscaling/v1 and reads it under v1 and v2', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'scaled' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'scaled' } },
        template: {
          metadata: { labels: { app: 'scaled' } },
          spec: { containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '50m' } } }] },
        },
      },
    };
    assert.equal((await agent.api('POST', '/apis/apps/v1/namespaces/default/deployments', dep)).status, 201);
    // `kubectl autoscale` itself posts protobuf, which Mesh does not decode; the manifest it makes goes in through apply, as JSON.
    const manifest = await kubectl(agent, ['autoscale', 'deployment/scaled', '--cpu-percent=50', '--min=1', '--max=3', '--dry-run=client', '-o', 'yaml']);
    assert.equal(manifest.code, 0, manifest.stderr);
    assert.match(manifest.stdout, /apiVersion: autoscaling\/v1/);
    const applied = await kubectl(agent, ['apply', '-f', '-'], manifest.stdout);
    assert.equal(applied.code, 0, applied.stderr);
    const v1 = await kubectl(agent, ['get', 'horizontalpodautoscalers.v1.autoscaling', 'scaled', '-o', 'jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage}']);
    assert.equal(v1.stdout, 'autoscaling/v1 50', v1.stderr);
    const v2 = await kubectl(agent, ['get', 'hpa', 'scaled', '-o', 'jsonpath={.apiVersion} {.spec.metrics[0].resource.target.averageUtilization}']);
    assert.equal(v2.stdout, 'autoscaling/v2 50', v2.stderr);
    const table = await kubectl(agent, ['get', 'horizontalpodautoscalers.v1.autoscaling', 'scaled']);
    assert.match(table.stdout, /^scaled\s+Deployment\/scaled\s+cpu: \S+\/50%\s+1\s+3\s/m);
    assert.equal((await kubectl(agent, ['delete', 'horizontalpodautoscalers.v1.autoscaling', 'scaled'])).code, 0);
    assert.equal((await agent.api('DELETE', '/apis/apps/v1/namespaces/default/deployments/scaled')).status, 200);
  });

  it('a stale update gets 409 Conflict', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'stale' }, data: { a: '1' } };
    const created = await agent.api('POST', '/api/v1/namespaces/default/configmaps', cm);
    assert.equal(created.status, 201);
    const fresh = { ...created.body, data: { a: '2' } };
    assert.equal((await agent.api('PUT', '/api/v1/namespaces/default/configmaps/stale', fresh)).status, 200);
    // Same resourceVersion again: it is stale now.
    const stale = await agent.api('PUT', '/api/v1/namespaces/default/configmaps/stale', { ...created.body, data: { a: '3' } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.kind, 'Status');
    assert.equal(stale.body.reason, 'Conflict');
  });
});

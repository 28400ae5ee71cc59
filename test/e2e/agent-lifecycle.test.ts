// Agent-level lifecycle on real Docker: restarts keep pods running, kill -9
// loses no acknowledged write, deletion is graceful, init containers and
// sidecars run in order, and crashing containers are restarted and counted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startAgentProcess, waitFor, type AgentProcess } from '../support/agent-process.ts';

const run = promisify(execFile);
const IMAGE = 'mesh.local/busybox:latest';
const PODS = '/api/v1/namespaces/default/pods';

function pod(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 5, ...spec } };
}
function container(name: string, script: string, extra: Record<string, unknown> = {}) {
  return { name, image: IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], ...extra };
}
async function getPod(agent: AgentProcess, name: string) {
  const r = await agent.api('GET', `${PODS}/${name}`);
  return r.status === 200 ? r.body : undefined;
}
async function containerIds(nodeName: string, podName: string): Promise<string[]> {
  const { stdout } = await run('docker', [
    'ps', '-q', '--no-trunc', '--filter', `label=io.mesh.node=${nodeName}`, '--filter', `label=io.mesh.pod.name=${podName}`,
  ]);
  return stdout.split('\n').filter(Boolean).sort();
}

describe('agent lifecycle on real Docker', () => {
  let agent: AgentProcess;
  before(async () => {
    agent = await startAgentProcess({ prefix: 'e2e-life' });
  });
  after(async () => {
    await agent?.destroy();
  });

  it('runs init containers in order, then a sidecar, then the app', async () => {
    const spec = {
      initContainers: [
        container('init-1', 'echo one'),
        container('init-2', 'echo two'),
        container('sidecar', 'while true; do sleep 1; done', { restartPolicy: 'Always' }),
      ],
      containers: [container('app', 'while true; do sleep 1; done')],
    };
    assert.equal((await agent.api('POST', PODS, pod('ordered', spec))).status, 201);
    const running = await waitFor('ordered pod Running', async () => {
      const p = await getPod(agent, 'ordered');
      return p?.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready && p;
    });
    const inits = running.status.initContainerStatuses as any[];
    assert.equal(inits.length, 3);
    assert.equal(inits[0].state.terminated?.reason, 'Completed');
    assert.equal(inits[1].state.terminated?.reason, 'Completed');
    assert.ok(inits[2].state.running, 'sidecar keeps running');
    // init-2 started only after init-1 finished.
    assert.ok(Date.parse(inits[1].state.terminated.startedAt) >= Date.parse(inits[0].state.terminated.finishedAt));
    assert.match(running.status.podIP, /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(
      running.status.conditions.filter((c: any) => c.status === 'True').map((c: any) => c.type).sort(),
      ['ContainersReady', 'Initialized', 'PodScheduled', 'Ready'],
    );
  });

  it('restarts a crashing container and counts the restarts', async () => {
    const spec = { containers: [container('crash', 'echo crashing; exit 3')] };
    assert.equal((await agent.api('POST', PODS, pod('crasher', spec))).status, 201);
    const p = await waitFor(
      'two restarts',
      async () => {
        const p = await getPod(agent, 'crasher');
        return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 && p;
      },
      90_000,
    );
    const cs = p.status.containerStatuses[0];
    assert.equal(cs.lastState.terminated.exitCode, 3);
    assert.equal(cs.lastState.terminated.reason, 'Error');
  });

  it('an agent restart keeps the pods running without restarting them', async () => {
    const spec = { containers: [container('app', 'while true; do sleep 1; done')] };
    assert.equal((await agent.api('POST', PODS, pod('survivor', spec))).status, 201);
    await waitFor('survivor Running', async () => (await getPod(agent, 'survivor'))?.status?.phase === 'Running');
    const before = await containerIds(agent.nodeName, 'survivor');
    assert.ok(before.length >= 2, 'sandbox and app container exist');

    await agent.stop();
    assert.deepEqual(await containerIds(agent.nodeName, 'survivor'), before, 'containers keep running while the agent is down');
    await agent.restart();
    // Give the kubelet time to take the pod back, then check nothing was replaced.
    await waitFor('status refreshed after restart', async () => (await getPod(agent, 'survivor'))?.status?.phase === 'Running');
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await containerIds(agent.nodeName, 'survivor'), before);
    const p = await getPod(agent, 'survivor');
    assert.equal(p.status.containerStatuses[0].restartCount, 0);
  });

  it('kill -9 of the agent loses no acknowledged write', async () => {
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const name = `durable-${i}`;
      const r = await agent.api('POST', '/api/v1/namespaces/default/configmaps', {
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) },
      });
      assert.equal(r.status, 201);
      names.push(name);
    }
    await agent.kill9();
    await agent.restart();
    for (const [i, name] of names.entries()) {
      const r = await agent.api('GET', `/api/v1/namespaces/default/configmaps/${name}`);
      assert.equal(r.status, 200, `${name} survived kill -9`);
      assert.equal(r.body.data.i, String(i));
    }
  });

  it('deletes gracefully: SIGTERM first, then the object goes', async () => {
    const script = "trap 'echo got SIGTERM; sleep 1; exit 0' TERM; echo ready; while true; do sleep 1; done";
    assert.equal((await agent.api('POST', PODS, pod('graceful', { containers: [container('app', script)] }))).status, 201);
    await waitFor('graceful Running', async () => (await getPod(agent, 'graceful'))?.status?.phase === 'Running');
    const [appId] = (await run('docker', [
      'ps', '-q', '--no-trunc', '--filter', `label=io.mesh.node=${agent.nodeName}`,
      '--filter', 'label=io.mesh.pod.name=graceful', '--filter', 'label=io.mesh.container.name=app',
    ])).stdout.split('\n').filter(Boolean);
    assert.ok(appId);
    const startedAt = Math.floor(Date.now() / 1000) - 1;
    const del = await agent.api('DELETE', `${PODS}/graceful`);
    assert.equal(del.status, 200);
    const marked = await getPod(agent, 'graceful');
    assert.ok(marked?.metadata?.deletionTimestamp, 'the pod is marked for deletion first');
    await waitFor('graceful removed', async () => (await agent.api('GET', `${PODS}/graceful`)).status === 404, 30_000);
    // Docker's event log shows what happened to the app container: SIGTERM
    // (signal 15) first, then an exit of its own (code 0), not a SIGKILL (137).
    const { stdout } = await run('docker', [
      'events', '--since', String(startedAt), '--until', String(Math.ceil(Date.now() / 1000)),
      '--filter', `container=${appId}`, '--format', '{{.Action}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}',
    ]);
    const actions = stdout.split('\n').filter((l) => /^(kill|die)/.test(l));
    assert.equal(actions[0], 'kill 15', `events: ${stdout}`);
    assert.ok(actions.includes('die 0'), `events: ${stdout}`);
  });
});

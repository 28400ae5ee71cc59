// How container failures show, on real Docker through a real agent: image pulls
// from a real registry on loopback (success, and ImagePullBackOff with the
// registry's message), a process that cannot start (ContainerCannotRun), and a
// crash loop whose restart delays grow (CrashLoopBackOff).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startAgentProcess, waitFor, type AgentProcess } from '../support/agent-process.ts';
import { startLocalRegistry, type LocalRegistry } from '../support/local-registry.ts';

const run = promisify(execFile);
const PODS = '/api/v1/namespaces/default/pods';

function pod(name: string, container: Record<string, unknown>) {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', ...container }] },
  };
}
async function status(agent: AgentProcess, name: string): Promise<any> {
  return (await agent.api('GET', `${PODS}/${name}`)).body?.status?.containerStatuses?.[0];
}
async function eventReasons(agent: AgentProcess, podName: string): Promise<string[]> {
  const r = await agent.api('GET', `/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D${podName}`);
  return (r.body.items as any[]).map((e) => e.reason);
}

describe('container failures on real Docker', () => {
  let agent: AgentProcess;
  let registry: LocalRegistry;
  let pushed: string;

  before(async () => {
    registry = await startLocalRegistry();
    pushed = `${registry.host}/mesh/busybox:pulled`;
    await run('docker', ['tag', 'mesh.local/busybox:latest', pushed]);
    await run('docker', ['push', pushed]);
    await run('docker', ['rmi', pushed]);
    agent = await startAgentProcess({ prefix: 'e2e-fail' });
  });
  after(async () => {
    await agent?.destroy();
    await run('docker', ['rmi', pushed]).catch(() => undefined);
    await registry?.stop();
  });

  it('pulls an image from a registry, with Pulling and Pulled events', async () => {
    const created = await agent.api('POST', PODS, pod('pulled', { image: pushed, imagePullPolicy: 'Always', command: ['sleep', '3600'] }));
    assert.equal(created.status, 201);
    await waitFor('pulled pod running', async () => (await status(agent, 'pulled'))?.state?.running, 60_000);
    const reasons = await waitFor('pull events', async () => {
      const r = await eventReasons(agent, 'pulled');
      return r.includes('Pulled') && r;
    });
    assert.ok(reasons.includes('Pulling'), `events: ${reasons}`);
  });

  it('reports a missing image as ErrImagePull, then ImagePullBackOff, with the registry message', async () => {
    const image = `${registry.host}/mesh/does-not-exist:1`;
    assert.equal((await agent.api('POST', PODS, pod('no-image', { image, command: ['true'] }))).status, 201);
    const errPull = await waitFor('ErrImagePull', async () => {
      const s = await status(agent, 'no-image');
      return s?.state?.waiting?.reason === 'ErrImagePull' && s.state.waiting;
    }, 30_000);
    assert.match(errPull.message, /manifest unknown|not found/i);
    const backOff = await waitFor('ImagePullBackOff', async () => {
      const s = await status(agent, 'no-image');
      return s?.state?.waiting?.reason === 'ImagePullBackOff' && s.state.waiting;
    }, 30_000);
    assert.match(backOff.message, /Back-off pulling image/);
    const table = await agent.api('GET', `${PODS}/no-image`);
    assert.equal(table.body.status.phase, 'Pending');
  });

  it('reports a process that cannot start as ContainerCannotRun', async () => {
    const spec = pod('cannot-run', { image: 'mesh.local/busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['/no/such/binary'] });
    spec.spec = { ...spec.spec, restartPolicy: 'Never' } as typeof spec.spec;
    assert.equal((await agent.api('POST', PODS, spec)).status, 201);
    const s = await waitFor('ContainerCannotRun', async () => {
      const s = await status(agent, 'cannot-run');
      const t = s?.state?.terminated ?? s?.lastState?.terminated;
      return t?.reason === 'ContainerCannotRun' && t;
    }, 30_000);
    assert.notEqual(s.exitCode, 0);
    assert.match(s.message, /no such file|not found/i);
  });

  it('backs off a crash loop with growing delays, showing CrashLoopBackOff', async () => {
    const spec = pod('crash-loop', { image: 'mesh.local/busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'exit 1'] });
    assert.equal((await agent.api('POST', PODS, spec)).status, 201);
    const messages = new Set<string>();
    const restartsAt: number[] = [];
    let last = 0;
    await waitFor('three restarts', async () => {
      const s = await status(agent, 'crash-loop');
      if (s?.state?.waiting?.reason === 'CrashLoopBackOff') messages.add(s.state.waiting.message);
      if ((s?.restartCount ?? 0) > last) {
        last = s.restartCount;
        restartsAt.push(Date.now());
      }
      return last >= 3;
    }, 90_000);
    const delays = [...messages].map((m) => Number(/back-off (\d+)s/.exec(m)?.[1])).filter(Boolean);
    assert.deepEqual(delays.slice(0, 2), [10, 20], `back-off messages: ${[...messages].join(' | ')}`);
    // The wait before the third restart was about twice the one before the second.
    const [first, second] = [restartsAt[1]! - restartsAt[0]!, restartsAt[2]! - restartsAt[1]!];
    assert.ok(second >= first * 1.5, `restarts at ${restartsAt.map((t) => t - restartsAt[0]!)} ms`);
  });
});

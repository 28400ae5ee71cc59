import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../../src/agent/logger.ts';
import { createProbeManager, type ProbeFailure, type ProbeManager } from '../../../../src/agent/kubelet/probes/probe-manager.ts';
import type { Probe, ProbeKind } from '../../../../src/agent/kubelet/probes/probe-types.ts';
import { createFakeClock, type FakeClock } from '../../../support/fake-clock.ts';

const UID = 'uid-1';

function podWith(container: Container): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: UID }, spec: { containers: [container] } };
}

interface Env {
  clock: FakeClock;
  manager: ProbeManager;
  /** What the next check of each kind returns (true = success). */
  answers: Record<ProbeKind, boolean[]>;
  checks: { kind: string; at: number; timeoutMs: number }[];
  changes: number;
  failures: ProbeFailure[];
  unhealthy: { kind: ProbeKind; output: string }[];
}

let env: Env;

/** Tags each probe by kind through its exec command, so the stub knows which answer to give. */
const probe = (kind: ProbeKind, extra: Partial<Probe> = {}): Probe => ({ exec: { command: [kind] }, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3, ...extra });

beforeEach(() => {
  const clock = createFakeClock();
  const e = { clock, answers: { liveness: [], readiness: [], startup: [] }, checks: [], changes: 0, failures: [], unhealthy: [] } as unknown as Env;
  e.manager = createProbeManager({
    clock,
    logger: silentLogger(),
    async check(p, _target, timeoutMs) {
      const kind = p.exec!.command[0] as ProbeKind;
      e.checks.push({ kind, at: clock.now(), timeoutMs });
      const ok = e.answers[kind].length ? e.answers[kind].shift()! : true;
      return { ok, output: ok ? '' : `${kind} says no` };
    },
    onChange: () => e.changes++,
    onUnhealthy: (_pod, _c, kind, output) => e.unhealthy.push({ kind, output }),
    onFailure: (f) => e.failures.push(f),
  });
  env = e;
});
afterEach(() => env.manager.stop());

function run(container: Container, id = 'c1', startedAt = env.clock.now()): Pod {
  const pod = podWith(container);
  env.manager.update(pod, [{ container, containerId: id, startedAt }], '10.0.0.1');
  return pod;
}

describe('probe manager', () => {
  it('waits initialDelaySeconds, then probes every periodSeconds with timeoutSeconds', async () => {
    run({ name: 'app', image: 'i', livenessProbe: probe('liveness', { initialDelaySeconds: 5, periodSeconds: 3, timeoutSeconds: 2 }) });
    await env.clock.advance(4999);
    assert.equal(env.checks.length, 0, 'nothing before the initial delay');
    await env.clock.advance(1);
    await env.clock.advance(6000);
    assert.deepEqual(env.checks.map((c) => c.at - 1_000_000), [5000, 8000, 11000]);
    assert.ok(env.checks.every((c) => c.timeoutMs === 2000));
  });

  it('readiness starts false and needs successThreshold successes; failureThreshold failures make it false again', async () => {
    run({ name: 'app', image: 'i', readinessProbe: probe('readiness', { periodSeconds: 1, successThreshold: 2, failureThreshold: 2 }) });
    assert.deepEqual(env.manager.state(UID, 'app', 'c1'), { ready: false, started: true });
    env.answers.readiness = [true, true, false, true, false, false];
    await env.clock.advance(0);
    assert.equal(env.manager.state(UID, 'app', 'c1').ready, false, 'one success is not enough');
    await env.clock.advance(1000);
    assert.equal(env.manager.state(UID, 'app', 'c1').ready, true);
    assert.equal(env.changes, 1);
    await env.clock.advance(2000); // false, true: the failure run was broken
    assert.equal(env.manager.state(UID, 'app', 'c1').ready, true);
    await env.clock.advance(2000); // false, false
    assert.equal(env.manager.state(UID, 'app', 'c1').ready, false);
    assert.equal(env.changes, 2);
    assert.equal(env.unhealthy.filter((u) => u.kind === 'readiness').length, 3, 'each failed check is reported');
    assert.equal(env.failures.length, 0, 'readiness never kills');
  });

  it('reports a liveness failure once failureThreshold is reached, then holds until the instance changes', async () => {
    const c: Container = { name: 'app', image: 'i', livenessProbe: probe('liveness', { periodSeconds: 1, failureThreshold: 3 }) };
    run(c);
    env.answers.liveness = [false, false, true, false, false, false, false, false];
    await env.clock.advance(2000);
    assert.equal(env.failures.length, 0, 'a success in between resets the run');
    await env.clock.advance(3000);
    assert.equal(env.failures.length, 1);
    assert.equal(env.failures[0].kind, 'liveness');
    assert.equal(env.failures[0].containerId, 'c1');
    assert.equal(env.failures[0].output, 'liveness says no');
    const checksAtFailure = env.checks.length;
    await env.clock.advance(5000);
    assert.equal(env.checks.length, checksAtFailure, 'no checks while waiting for the kill');
    run(c, 'c2');
    await env.clock.advance(0);
    assert.equal(env.checks.length, checksAtFailure + 1, 'a new instance gets a fresh worker');
  });

  it('a startup probe holds off liveness and readiness until it succeeds, then stops', async () => {
    run({
      name: 'app',
      image: 'i',
      startupProbe: probe('startup', { periodSeconds: 1, failureThreshold: 10 }),
      livenessProbe: probe('liveness', { periodSeconds: 1, failureThreshold: 1 }),
      readinessProbe: probe('readiness', { periodSeconds: 1 }),
    });
    env.answers.startup = [false, false, false, true];
    env.answers.liveness = [false, false, false, false, false, false, false, false]; // would kill at once
    await env.clock.advance(2000);
    assert.deepEqual(env.manager.state(UID, 'app', 'c1'), { ready: false, started: false });
    assert.equal(env.checks.filter((c) => c.kind !== 'startup').length, 0, 'liveness and readiness wait');
    assert.equal(env.failures.length, 0);
    env.answers.liveness = [];
    await env.clock.advance(1000);
    assert.equal(env.manager.state(UID, 'app', 'c1').started, true);
    await env.clock.advance(1000);
    assert.equal(env.manager.state(UID, 'app', 'c1').ready, true);
    const startupChecks = env.checks.filter((c) => c.kind === 'startup').length;
    await env.clock.advance(5000);
    assert.equal(env.checks.filter((c) => c.kind === 'startup').length, startupChecks, 'startup probing stopped');
    assert.equal(env.failures.length, 0);
  });

  it('a startup probe that never succeeds is reported like a liveness failure', async () => {
    run({ name: 'app', image: 'i', startupProbe: probe('startup', { periodSeconds: 1, failureThreshold: 2 }) });
    env.answers.startup = [false, false];
    await env.clock.advance(1000);
    assert.equal(env.failures.length, 1);
    assert.equal(env.failures[0].kind, 'startup');
    assert.equal(env.manager.state(UID, 'app', 'c1').started, false);
  });

  it('containers without probes are ready and started; removed pods stop their timers', async () => {
    run({ name: 'app', image: 'i' });
    assert.deepEqual(env.manager.state(UID, 'app', 'c1'), { ready: true, started: true });
    run({ name: 'app', image: 'i', livenessProbe: probe('liveness') });
    assert.equal(env.clock.pending(), 1);
    env.manager.removePod(UID);
    assert.equal(env.clock.pending(), 0);
    env.manager.stop();
    run({ name: 'app', image: 'i', livenessProbe: probe('liveness') });
    assert.equal(env.clock.pending(), 0, 'a stopped manager starts no workers (a sync in flight at stop)');
  });
});

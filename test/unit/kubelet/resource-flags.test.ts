import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseEvictionHard, parseReserved, thresholdBytes } from '../../../src/agent/kubelet/resource-flags.ts';
import { computeAllocatable } from '../../../src/agent/kubelet/node-allocatable.ts';
import { agentConfigFrom } from '../../../src/cli/commands/agent.ts';

const Mi = 2 ** 20;

describe('resource flags', () => {
  it('parses reserved lists and names the flag and entry on errors', () => {
    assert.deepEqual(parseReserved('--system-reserved', 'cpu=500m, memory=1Gi'), { cpu: '500m', memory: '1Gi' });
    assert.deepEqual(parseReserved('--kube-reserved', undefined), {});
    assert.throws(() => parseReserved('--kube-reserved', 'cpu'), /invalid --kube-reserved entry "cpu": use name=quantity/);
    assert.throws(() => parseReserved('--system-reserved', 'memory=lots'), /invalid --system-reserved entry "memory=lots": quantities must match/);
    assert.throws(() => parseReserved('--system-reserved', 'gpu=1'), /unknown resource "gpu"/);
    assert.throws(() => parseReserved('--system-reserved', 'cpu=-1'), /must not be negative/);
  });

  it('parses --eviction-hard: default, quantity, percentage, off; rejects other signals', () => {
    assert.deepEqual(parseEvictionHard(undefined).memoryAvailable, { text: '100Mi', bytes: 100 * Mi });
    assert.deepEqual(parseEvictionHard('memory.available<1Gi').memoryAvailable, { text: '1Gi', bytes: 1024 * Mi });
    const pct = parseEvictionHard('memory.available<10%').memoryAvailable;
    assert.equal(thresholdBytes(pct, 1000 * Mi), 100 * Mi);
    assert.deepEqual(parseEvictionHard(''), {});
    assert.throws(() => parseEvictionHard('nodefs.available<10%'), /invalid --eviction-hard entry "nodefs.available<10%": signal "nodefs.available" is not supported/);
    assert.throws(() => parseEvictionHard('memory.available>1Gi'), /invalid --eviction-hard entry/);
    assert.throws(() => parseEvictionHard('memory.available<150%'), /between 0% and 100%/);
    assert.throws(() => parseEvictionHard('memory.available<abc'), /quantities must match/);
  });

  it('reaches AgentConfig through the CLI, with errors naming the flag', () => {
    const cfg = agentConfigFrom({ systemReserved: 'cpu=500m,memory=1Gi', kubeReserved: 'memory=256Mi', evictionHard: 'memory.available<200Mi' }, '/tmp/x');
    assert.deepEqual(cfg.systemReserved, { cpu: '500m', memory: '1Gi' });
    assert.deepEqual(cfg.kubeReserved, { memory: '256Mi' });
    assert.equal(cfg.evictionHard?.memoryAvailable?.bytes, 200 * Mi);
    assert.throws(() => agentConfigFrom({ kubeReserved: 'memory=x' }, '/tmp/x'), (err: Error) => err.name === 'CliError' && /--kube-reserved entry "memory=x"/.test(err.message));
  });
});

describe('node allocatable', () => {
  const capacity = { cpu: '2', memory: `${8 * 1024 * 1024}Ki`, 'ephemeral-storage': `${100 * 1024 * 1024}Ki`, pods: '110', 'nvidia.com/gpu': '2' };

  it('equals capacity when nothing is reserved', () => {
    assert.deepEqual(computeAllocatable(capacity, {}), capacity);
  });

  it('subtracts system-reserved, kube-reserved and the memory eviction threshold', () => {
    const a = computeAllocatable(capacity, {
      systemReserved: { cpu: '500m', memory: '1Gi' },
      kubeReserved: { cpu: '250m', memory: '512Mi', 'ephemeral-storage': '10Gi' },
      evictionHard: parseEvictionHard('memory.available<100Mi'),
    });
    assert.equal(a.cpu, '1250m');
    assert.equal(a.memory, `${(8 * 1024 - 1024 - 512 - 100) * 1024}Ki`);
    assert.equal(a['ephemeral-storage'], `${90 * 1024 * 1024}Ki`);
    assert.equal(a.pods, '110');
    assert.equal(a['nvidia.com/gpu'], '2');
    assert.equal(computeAllocatable(capacity, { systemReserved: { cpu: '1' } }).cpu, '1');
  });

  it('uses a percentage threshold of capacity and never goes below zero', () => {
    const a = computeAllocatable(capacity, { evictionHard: parseEvictionHard('memory.available<50%') });
    assert.equal(a.memory, `${4 * 1024 * 1024}Ki`);
    const z = computeAllocatable(capacity, { systemReserved: { cpu: '3', memory: '16Gi' } });
    assert.equal(z.cpu, '0');
    assert.equal(z.memory, '0Ki');
  });
});

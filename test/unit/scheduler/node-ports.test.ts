import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerPort } from '../../../src/agent/api/object-types.ts';
import { createNodePortsPlugin } from '../../../src/agent/scheduler/plugins/node-ports.ts';
import { schedulePod } from '../../../src/agent/scheduler/schedule-pod.ts';
import { node, passing, pod, runFilter } from './scheduler-fixtures.ts';

const plugin = createNodePortsPlugin();
const withPorts = (name: string, ports: ContainerPort[], nodeName?: string) =>
  pod(name, { nodeName, containers: [{ name: 'c', image: 'i', ports }] });

describe('NodePorts plugin', () => {
  const nodes = [node('a'), node('b')];

  it('rejects a node where the same protocol and port are taken on any IP', () => {
    const bound = [withPorts('web', [{ containerPort: 80, hostPort: 8080 }], 'a')];
    const r = runFilter(plugin, withPorts('p', [{ containerPort: 80, hostPort: 8080 }]), nodes, bound);
    assert.equal(r.get('a'), "node(s) didn't have free ports for the requested pod ports");
    assert.equal(r.get('b'), undefined);
  });

  it('keeps protocols apart and ignores container ports without a host port', () => {
    const bound = [withPorts('dns', [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }, { containerPort: 9000 }], 'a')];
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 53, hostPort: 53, protocol: 'TCP' }]), nodes, bound), ['a', 'b']);
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 9000 }]), nodes, bound), ['a', 'b']);
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 53, hostPort: 53, protocol: 'UDP' }]), nodes, bound), ['b']);
  });

  it('lets distinct host IPs share a port, but 0.0.0.0 conflicts with every IP', () => {
    const bound = [withPorts('x', [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.1' }], 'a')];
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.2' }]), nodes, bound), ['a', 'b']);
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.1' }]), nodes, bound), ['b']);
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 80, hostPort: 80 }]), nodes, bound), ['b']);
    const wildcard = [withPorts('y', [{ containerPort: 80, hostPort: 80 }], 'a')];
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 80, hostPort: 80, hostIP: '10.0.0.9' }]), nodes, wildcard), ['b']);
  });

  it('counts sidecar ports and frees ports of finished pods', () => {
    const sidecar = pod('s', {
      nodeName: 'a',
      initContainers: [{ name: 'proxy', image: 'i', restartPolicy: 'Always', ports: [{ containerPort: 15001, hostPort: 15001 }] }],
    });
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 1, hostPort: 15001 }]), nodes, [sidecar]), ['b']);
    const done = withPorts('old', [{ containerPort: 80, hostPort: 80 }], 'a');
    done.status = { phase: 'Succeeded' };
    assert.deepEqual(passing(plugin, withPorts('p', [{ containerPort: 80, hostPort: 80 }]), nodes, [done]), ['a', 'b']);
  });

  it('says so in the combined message', () => {
    const bound = [withPorts('w1', [{ containerPort: 80, hostPort: 80 }], 'a'), withPorts('w2', [{ containerPort: 80, hostPort: 80 }], 'b')];
    assert.deepEqual(schedulePod(withPorts('p', [{ containerPort: 80, hostPort: 80 }]), nodes, bound), {
      unschedulable: "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.",
    });
  });
});

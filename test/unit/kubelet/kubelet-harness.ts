// What the kubelet tests on the fake runtime set up alike: a kubelet with
// quick back-off and resync, and pods bound to its node.
import type { Pod, PodSpec } from '../../../src/agent/api/object-types.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { KubeletOptions } from '../../../src/agent/kubelet/kubelet.ts';

/**
 * A kubelet's options for a test: silent, on network `meshnet` at a
 * documentation address, back-off 60-240 ms and a 200 ms resync unless extra
 * says otherwise.
 */
export function testKubeletOptions(extra: Pick<KubeletOptions, 'nodeName' | 'client' | 'runtime'> & Partial<KubeletOptions>): KubeletOptions {
  return {
    logger: silentLogger(),
    podNetwork: 'meshnet',
    nodeAddress: '192.0.2.10',
    backoff: { initialMs: 60, maxMs: 240 },
    resyncMs: 200,
    ...extra,
  };
}

/** Pod name in `default`, bound to nodeName, with no containers unless spec has them. */
export function boundPod(name: string, nodeName: string, spec: Partial<PodSpec>, status?: Pod['status']): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName, containers: [], ...spec } as PodSpec,
    ...(status ? { status } : {}),
  };
}

// A node agent in miniature for controller tests over a real registry: binds
// each pod (to the node `nodeFor` names), reports it Running (Ready or not),
// and ends terminating pods unless told its node's agent is gone.
import { rfc3339, type Registry } from '../../../src/agent/api/registry.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { defineController, type Controller } from '../../../src/agent/controllers/controller.ts';

export interface FakeKubelet {
  controller: Controller;
  /** Whether a pod becomes Ready. */
  ready: (pod: Pod) => boolean;
  /** Whether this kubelet ends a terminating pod (false: its containers are "still stopping", or its agent is gone). */
  finishes: (pod: Pod) => boolean;
}

export function fakeKubelet(registry: Registry, clock: { now: number }, nodeFor: (pod: Pod) => string = () => 'node-1'): FakeKubelet {
  const state = { ready: (_pod: Pod) => true, finishes: (_pod: Pod) => true };
  const controller = defineController({
    name: 'fake-kubelet',
    watches: [{ resource: 'pods', toKeys: (e) => (e.type === 'DELETED' ? [] : [`${e.object.metadata.namespace}/${e.object.metadata.name}`]) }],
    async reconcile(key) {
      const [ns, name] = key.split('/') as [string, string];
      const pod = registry.get<Pod>('pods', ns, name);
      if (!pod) return;
      if (pod.metadata.deletionTimestamp) {
        if (state.finishes(pod)) await registry.delete('pods', ns, name, { gracePeriodSeconds: 0 });
        return;
      }
      if (!pod.spec.nodeName) {
        await registry.bind(ns, name, nodeFor(pod));
        return;
      }
      const ready = state.ready(pod);
      const cur = pod.status?.conditions?.find((c) => c.type === 'Ready');
      if (pod.status?.phase === 'Running' && (cur?.status === 'True') === ready) return;
      const conditions = (pod.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
      conditions.push({ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: rfc3339(new Date(clock.now)) });
      await registry.updateStatus<Pod>('pods', { ...pod, status: { ...pod.status, phase: 'Running', conditions } });
    },
  });
  return Object.assign(state, { controller });
}

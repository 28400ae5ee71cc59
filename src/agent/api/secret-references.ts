// Which Secrets a pod uses. One list, read by the kubelet (what to fetch before
// it starts containers) and by the Raft leader (a node may fetch a Secret only
// while a pod bound to it uses that Secret).
import type { Container, Pod } from './object-types.ts';

interface VolumeSources {
  secret?: { secretName?: string };
  projected?: { sources?: { secret?: { name?: string } }[] };
}

function fromContainer(c: Container, out: Set<string>): void {
  for (const e of c.env ?? []) {
    const name = e.valueFrom?.secretKeyRef?.name;
    if (name) out.add(name);
  }
  for (const src of c.envFrom ?? []) if (src.secretRef?.name) out.add(src.secretRef.name);
}

/**
 * Names of the Secrets (in the pod's namespace) the pod references: env
 * secretKeyRef, envFrom secretRef, secret and projected-secret volumes, and
 * imagePullSecrets, across containers, init containers and ephemeral containers. Sorted.
 */
export function secretsReferencedBy(pod: Pod): string[] {
  const out = new Set<string>();
  const spec = pod.spec as Pod['spec'] & { ephemeralContainers?: Container[]; imagePullSecrets?: { name?: string }[] };
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])]) fromContainer(c, out);
  for (const v of (spec.volumes ?? []) as VolumeSources[]) {
    if (v.secret?.secretName) out.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) out.add(s.secret.name);
  }
  for (const s of spec.imagePullSecrets ?? []) if (s.name) out.add(s.name);
  return [...out].sort();
}

/** A finished pod needs no Secrets any more. */
function isActivePod(pod: Pod): boolean {
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** Whether `node` may read Secret namespace/name: some unfinished pod bound to it references it. */
export function nodeMayReadSecret(pods: readonly Pod[], node: string, namespace: string, name: string): boolean {
  return pods.some(
    (p) =>
      p.spec.nodeName === node &&
      (p.metadata.namespace ?? 'default') === namespace &&
      isActivePod(p) &&
      secretsReferencedBy(p).includes(name),
  );
}

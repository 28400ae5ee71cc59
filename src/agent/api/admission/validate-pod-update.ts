// Pods are mostly immutable: Kubernetes allows only images, activeDeadlineSeconds,
// added tolerations (and a negative grace period fixed up to 1) to change.
import type { StatusCause } from '../errors.ts';
import { forbidden, invalid } from './field-errors.ts';
import type { PodSpecShape } from './schemas.ts';
import { sameJson } from './same-json.ts';

export const POD_UPDATE_FORBIDDEN =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

type Spec = PodSpecShape & Record<string, unknown>;

function copyImages(to: Spec['containers'], from: Spec['containers']): void {
  if (!to || !from) return;
  for (let i = 0; i < Math.min(to.length, from.length); i++) to[i]!.image = from[i]!.image;
}

export function validatePodSpecUpdate(spec: Spec | null | undefined, old: Spec | null | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  const next = (spec ?? {}) as Spec;
  const prev = (old ?? {}) as Spec;
  const ads = next.activeDeadlineSeconds;
  const oldAds = prev.activeDeadlineSeconds;
  if (oldAds != null) {
    if (ads == null) causes.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
    else if (ads > oldAds) causes.push(invalid('spec.activeDeadlineSeconds', ads, 'must be less than or equal to previous value'));
  }
  const oldTolerations = prev.tolerations ?? [];
  const newTolerations = next.tolerations ?? [];
  const onlyAdded = oldTolerations.every((t) => newTolerations.some((n) => sameJson(n, t)));

  // Compare the new spec with the allowed fields taken from the old one.
  const munged = structuredClone(next);
  copyImages(munged.containers, prev.containers);
  copyImages(munged.initContainers, prev.initContainers);
  munged.activeDeadlineSeconds = prev.activeDeadlineSeconds;
  if (onlyAdded) munged.tolerations = prev.tolerations;
  const oldGrace = prev.terminationGracePeriodSeconds;
  if (oldGrace != null && oldGrace < 0 && next.terminationGracePeriodSeconds === 1) munged.terminationGracePeriodSeconds = oldGrace;
  if (!sameJson(munged, prev)) causes.push(forbidden('spec', POD_UPDATE_FORBIDDEN));
  return causes;
}

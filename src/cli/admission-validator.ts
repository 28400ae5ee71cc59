// Wires the server's own defaulting + validation into `mesh apply`, so a bad
// manifest is rejected before anything is sent. Loaded lazily: only apply needs it.
import type { ManifestValidator } from './manifests.ts';

export async function loadAdmissionValidator(): Promise<ManifestValidator> {
  const { applyDefaults, validateObject } = await import('../agent/api/admission/index.ts');
  return (type, obj) => {
    // The caller passes a copy: defaults must not leak into what is applied.
    applyDefaults(type, obj);
    return validateObject(type, obj);
  };
}

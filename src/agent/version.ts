// Mesh's version, and the Kubernetes API version whose shapes it serves
// (kubectl's version-skew checks read gitVersion).
const MESH = '0.1.0';
const KUBE_MAJOR = '1';
const KUBE_MINOR = '32';

export const MESH_VERSION = {
  mesh: MESH,
  gitVersion: `v${KUBE_MAJOR}.${KUBE_MINOR}.0-mesh.${MESH}`,
  major: KUBE_MAJOR,
  minor: KUBE_MINOR,
} as const;

// Renders a kubeconfig that kubectl and the client libraries read unchanged.
import { stringify } from 'yaml';

export interface KubeconfigParams {
  /** https://host:port */
  server: string;
  caPem: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  clusterName: string;
  userName: string;
  /** Context name; `mesh` unless given. */
  contextName?: string;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function renderKubeconfig(p: KubeconfigParams): string {
  const contextName = p.contextName ?? 'mesh';
  const user: Record<string, string> = {};
  if (p.clientCertPem) user['client-certificate-data'] = b64(p.clientCertPem);
  if (p.clientKeyPem) user['client-key-data'] = b64(p.clientKeyPem);
  if (p.token) user.token = p.token;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: p.clusterName, cluster: { server: p.server, 'certificate-authority-data': b64(p.caPem) } }],
    users: [{ name: p.userName, user }],
    contexts: [{ name: contextName, context: { cluster: p.clusterName, user: p.userName } }],
    'current-context': contextName,
    preferences: {},
  });
}

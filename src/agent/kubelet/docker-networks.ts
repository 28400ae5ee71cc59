// Docker networks through dockerode, as much as the pod network needs: look one
// up by name, create a bridge network with a fixed subnet, remove one.
import Docker from 'dockerode';

export interface DockerNetworkInfo {
  name: string;
  id: string;
  driver: string;
  /** The first IPAM pool's subnet and gateway. */
  subnet?: string;
  gateway?: string;
  options: Record<string, string>;
  /** Containers attached now. */
  containers: number;
}

export interface DockerNetworkSpec {
  name: string;
  driver: string;
  subnet: string;
  gateway: string;
  options: Record<string, string>;
  labels?: Record<string, string>;
}

export interface DockerNetworks {
  /** undefined when no network has that name. */
  inspect(name: string): Promise<DockerNetworkInfo | undefined>;
  create(spec: DockerNetworkSpec): Promise<void>;
  /** No error when it is already gone. */
  remove(name: string): Promise<void>;
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

export function createDockerNetworks(opts: { socketPath?: string } = {}): DockerNetworks {
  const docker = new Docker({ socketPath: opts.socketPath ?? '/var/run/docker.sock', version: 'v1.41' });
  return {
    async inspect(name) {
      let n: Docker.NetworkInspectInfo;
      try {
        n = (await docker.getNetwork(name).inspect()) as Docker.NetworkInspectInfo;
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
      // The API also resolves ids and id prefixes: only the name counts here.
      if (n.Name !== name) return undefined;
      const pool = n.IPAM?.Config?.[0] as { Subnet?: string; Gateway?: string } | undefined;
      return {
        name: n.Name,
        id: n.Id,
        driver: n.Driver,
        ...(pool?.Subnet ? { subnet: pool.Subnet } : {}),
        ...(pool?.Gateway ? { gateway: pool.Gateway } : {}),
        options: n.Options ?? {},
        containers: Object.keys(n.Containers ?? {}).length,
      };
    },
    async create(spec) {
      await docker.createNetwork({
        Name: spec.name,
        Driver: spec.driver,
        CheckDuplicate: true,
        Options: spec.options,
        IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
        ...(spec.labels ? { Labels: spec.labels } : {}),
      });
    },
    async remove(name) {
      try {
        await docker.getNetwork(name).remove();
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    },
  };
}

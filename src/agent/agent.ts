// Wires one agent together and runs its components through one lifecycle:
// started in dependency order, stopped in reverse. Nothing here is global, so a
// test can run several agents in one process.
import { mkdir, writeFile } from 'node:fs/promises';
import { dataPaths, type AgentConfig } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { ensurePki } from './api/pki.ts';
import { renderKubeconfig } from './api/kubeconfig.ts';
import { createRegistry } from './api/registry.ts';
import { createApiServer } from './api/server.ts';
import { createAutomergeStore } from './store/automerge-store.ts';
import { createDockerRuntime } from './kubelet/docker-runtime.ts';
import { createKubelet } from './kubelet/kubelet.ts';
import { createNodeStatus } from './kubelet/node-status.ts';
import { createBinder } from './scheduler/binder.ts';
import { createEventRecorder } from './event-recorder.ts';

export interface RunningAgent {
  config: AgentConfig;
  /** The API's URL, e.g. https://127.0.0.1:6443 (with the real port when 0 was asked). */
  url: string;
  kubeconfigPath: string;
  stop(): Promise<void>;
}

interface Component {
  name: string;
  stop(): Promise<void> | void;
}

export async function startAgent(config: AgentConfig, logger?: Logger): Promise<RunningAgent> {
  const log = logger ?? createLogger({ level: config.logLevel, destination: config.logFile });
  const paths = dataPaths(config.dataDir);
  const started: Component[] = [];

  async function stopAll(): Promise<void> {
    for (const c of started.splice(0).reverse()) {
      try {
        await c.stop();
      } catch (err) {
        log.warn({ err, component: c.name }, 'stop failed');
      }
    }
  }

  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const pki = await ensurePki(paths.pki, { extraNames: [config.apiHost, config.nodeName] });

    const store = createAutomergeStore({ dataDir: paths.store, agentId: config.nodeName, logger: log });
    await store.start();
    started.push({ name: 'store', stop: () => store.stop() });

    const registry = createRegistry({ store, logger: log });
    await registry.ensureDefaultNamespaces();

    const runtime = createDockerRuntime({ socketPath: config.dockerSocket, logger: log });
    const runtimeInfo = await runtime.info();

    const nodeStatus = createNodeStatus({
      nodeName: config.nodeName,
      client: registry,
      runtimeInfo,
      labels: config.nodeLabels,
      logger: log,
    });
    await nodeStatus.start();
    started.push({ name: 'node-status', stop: () => nodeStatus.stop() });

    const kubelet = createKubelet({
      nodeName: config.nodeName,
      client: registry,
      runtime,
      logger: log,
      podNetwork: config.podNetwork,
    });
    await kubelet.start();
    started.push({ name: 'kubelet', stop: () => kubelet.stop() });

    const events = createEventRecorder({
      client: registry,
      source: { component: 'default-scheduler', host: config.nodeName },
      logger: log,
    });
    const binder = createBinder({ client: registry, binding: registry, events, logger: log });
    binder.start();
    started.push({ name: 'binder', stop: () => binder.stop() });

    const server = createApiServer({
      registry,
      tls: { caCertPem: pki.caCertPem, serverCertPem: pki.serverCertPem, serverKeyPem: pki.serverKeyPem },
      adminToken: pki.adminToken,
      host: config.apiHost,
      port: config.apiPort,
      logger: log,
      logSource: kubelet,
    });
    await server.start();
    started.push({ name: 'api', stop: () => server.stop() });

    const url = server.url();
    await writeFile(
      paths.adminKubeconfig,
      renderKubeconfig({
        server: url,
        caPem: pki.caCertPem,
        clientCertPem: pki.adminCertPem,
        clientKeyPem: pki.adminKeyPem,
        clusterName: 'mesh',
        userName: 'mesh-admin',
      }),
      { mode: 0o600 },
    );
    log.info({ url, node: config.nodeName, dataDir: config.dataDir }, 'agent started');
    return { config, url, kubeconfigPath: paths.adminKubeconfig, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// The join protocol (/mesh/join/1.0.0). The founder and every member answer it
// with the cluster's bootstrap bundle: its name, the CA (certificate and key),
// the admin credentials and the members it knows. The joiner reaches the cluster
// only through the private network, so without the token's pre-shared key the
// connection itself fails; and it pins the CA with the token's hash before it
// writes anything.
//
// Design note: every member holds the CA key so that any member can admit
// joiners and issue its own serving certificate (no special node to lose). The
// access-control issue will narrow this (node certificates issued on join, the
// CA key kept by fewer members).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../agent/logger.ts';
import { BadRequest } from '../agent/api/errors.ts';
import { ensurePki } from '../agent/api/pki.ts';
import { dataPaths } from '../agent/config.ts';
import { caCertHash, createJoinToken, parseJoinToken, PSK_LENGTH } from './join-token.ts';
import { DEFAULT_VOTERS, hasClusterConfig, loadClusterConfig, pskFromConfig, saveClusterConfig, type ClusterConfig } from './cluster-config.ts';
import { createMeshHost, DEFAULT_MESH_PORT, generatePeerKey, loadPeerKey, savePeerKey, type MeshHost } from './mesh-host.ts';
import { JoinRefused, PeerUnreachable, RemoteError } from './errors.ts';

export const JOIN_PROTOCOL = '/mesh/join/1.0.0';

export interface BundleMember {
  nodeName: string;
  peerId: string;
  addrs: string[];
}

export interface JoinBundle {
  clusterName: string;
  founder: string;
  voters: number;
  lbPool: string;
  caCertPem: string;
  caKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  adminToken: string;
  members: BundleMember[];
}

const bundleSchema = z.object({
  clusterName: z.string().min(1),
  founder: z.string().min(1),
  voters: z.number().int(),
  lbPool: z.string(),
  caCertPem: z.string().min(1),
  caKeyPem: z.string().min(1),
  adminCertPem: z.string().min(1),
  adminKeyPem: z.string().min(1),
  adminToken: z.string().min(1),
  members: z.array(z.object({ nodeName: z.string(), peerId: z.string(), addrs: z.array(z.string()) })),
});

const requestSchema = z.object({ nodeName: z.string(), peerId: z.string() });

/** The PKI file names src/agent/api/pki.ts reads. */
const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  adminCert: 'admin.crt',
  adminKey: 'admin.key',
  adminToken: 'admin.token',
} as const;

const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface InitResult {
  token: string;
  config: ClusterConfig;
}

/**
 * Founds a cluster in dataDir: a new pre-shared key and cluster.json, and the CA
 * (through ensurePki). Idempotent: run again, it returns the same token.
 */
export async function initCluster(
  dataDir: string,
  opts: { founder: string; clusterName?: string; voters?: number; lbPool?: string },
): Promise<InitResult> {
  let config: ClusterConfig;
  if (hasClusterConfig(dataDir)) {
    config = await loadClusterConfig(dataDir);
  } else {
    config = {
      clusterName: opts.clusterName ?? 'mesh',
      pskHex: randomBytes(PSK_LENGTH).toString('hex'),
      knownPeers: [],
      founder: opts.founder,
      voters: opts.voters ?? DEFAULT_VOTERS,
      lbPool: opts.lbPool ?? '',
    };
    await saveClusterConfig(dataDir, config);
  }
  const pki = await ensurePki(dataPaths(dataDir).pki);
  return { token: createJoinToken(pskFromConfig(config), pki.caCertPem), config };
}

/** The join token of the cluster whose config and CA are in dataDir. */
export async function clusterToken(dataDir: string): Promise<string> {
  const config = await loadClusterConfig(dataDir);
  const caCertPem = await readFile(join(dataPaths(dataDir).pki, PKI_FILES.caCert), 'utf8');
  return createJoinToken(pskFromConfig(config), caCertPem);
}

export interface JoinServerOptions {
  host: MeshHost;
  dataDir: string;
  /** The members to hand to a joiner (this agent included). */
  members: () => BundleMember[];
  logger: Logger;
}

/** Answers join requests on host with the bundle read from dataDir. */
export async function serveJoin(opts: JoinServerOptions): Promise<void> {
  const log = opts.logger.child({ component: 'join' });
  await opts.host.handle(JOIN_PROTOCOL, async (from, bytes) => {
    const parsed = requestSchema.safeParse(decodeJson(bytes));
    if (!parsed.success) throw new BadRequest('join request must be {nodeName, peerId}');
    const { nodeName, peerId } = parsed.data;
    if (!NODE_NAME.test(nodeName)) throw new BadRequest(`invalid node name "${nodeName}": must be a DNS subdomain`);
    // The peer id is also proven by the noise handshake; a mismatch means a confused or lying client.
    if (peerId !== from) throw new BadRequest(`join request claims peer ${peerId} but came from ${from}`);
    const members = opts.members();
    const clash = members.find((m) => m.nodeName === nodeName && m.peerId !== from);
    if (clash) throw new JoinRefused(`node name "${nodeName}" is already used by peer ${clash.peerId}`);
    const config = await loadClusterConfig(opts.dataDir);
    const pkiDir = dataPaths(opts.dataDir).pki;
    const read = (f: string) => readFile(join(pkiDir, f), 'utf8');
    const bundle: JoinBundle = {
      clusterName: config.clusterName,
      founder: config.founder,
      voters: config.voters,
      lbPool: config.lbPool,
      caCertPem: await read(PKI_FILES.caCert),
      caKeyPem: await read(PKI_FILES.caKey),
      adminCertPem: await read(PKI_FILES.adminCert),
      adminKeyPem: await read(PKI_FILES.adminKey),
      adminToken: (await read(PKI_FILES.adminToken)).trim(),
      members,
    };
    log.info({ nodeName, peerId: from }, 'admitted joiner');
    return encodeJson(bundle);
  });
}

export interface JoinOptions {
  dataDir: string;
  token: string;
  /** Where a member answers: host:port, [v6]:port, host (port 7946) or a multiaddr. */
  address: string;
  nodeName: string;
  logger: Logger;
  /** A host already running with the token's key; without one a temporary host is used. */
  host?: MeshHost;
  timeoutMs?: number;
}

export interface JoinResult {
  clusterName: string;
  members: BundleMember[];
  config: ClusterConfig;
}

/**
 * Joins the cluster behind address: fetches the bundle, checks the CA against the
 * token, then writes the PKI files and cluster.json. On any refusal nothing is written.
 */
export async function joinCluster(opts: JoinOptions): Promise<JoinResult> {
  const log = opts.logger.child({ component: 'join' });
  const token = parseJoinToken(opts.token);
  if (!NODE_NAME.test(opts.nodeName)) throw new BadRequest(`invalid node name "${opts.nodeName}": must be a DNS subdomain`);
  const target = toMultiaddr(opts.address);
  const pkiDir = dataPaths(opts.dataDir).pki;

  // Refuse early rather than overwrite another cluster's identity.
  const existingCa = join(pkiDir, PKI_FILES.caCert);
  if (existsSync(existingCa) && caCertHash(await readFile(existingCa, 'utf8')) !== token.caHash) {
    throw new JoinRefused(`${opts.dataDir} already belongs to a cluster with another CA; use an empty data directory`);
  }

  // A temporary host keeps its key in memory until the join succeeds, so a
  // refused join leaves the data directory untouched.
  const tempKey = opts.host ? undefined : ((await loadPeerKey(opts.dataDir)) ?? (await generatePeerKey()));
  const host =
    opts.host ??
    (await createMeshHost({
      dataDir: opts.dataDir,
      listenAddress: '127.0.0.1',
      port: 0,
      psk: token.psk,
      logger: opts.logger,
      privateKey: tempKey,
    }));
  let bundle: JoinBundle;
  let remotePeer: string;
  try {
    remotePeer = await host.dial(target, { timeoutMs: opts.timeoutMs });
    const reply = await host.request(
      remotePeer,
      JOIN_PROTOCOL,
      encodeJson({ nodeName: opts.nodeName, peerId: host.peerId }),
      { timeoutMs: opts.timeoutMs },
    );
    const parsed = bundleSchema.safeParse(decodeJson(reply));
    if (!parsed.success) throw new JoinRefused(`the join bundle from ${target} is malformed`);
    bundle = parsed.data;
  } catch (err) {
    if (err instanceof RemoteError) throw new JoinRefused(`the cluster refused the join: ${err.message}`, { cause: err });
    if (err instanceof PeerUnreachable) {
      throw new PeerUnreachable(
        `cannot reach the cluster at ${opts.address} (is the token right and a member listening there?): ${err.message}`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    if (!opts.host) await host.stop();
  }

  const offered = caCertHash(bundle.caCertPem);
  if (offered !== token.caHash) {
    throw new JoinRefused(
      `the cluster at ${opts.address} offered a CA whose sha256 is ${offered}, but the token pins ${token.caHash}; refusing to join`,
    );
  }

  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  if (tempKey) await savePeerKey(opts.dataDir, tempKey);
  await writeSecret(join(pkiDir, PKI_FILES.caKey), bundle.caKeyPem);
  await writeFile(join(pkiDir, PKI_FILES.caCert), bundle.caCertPem, { mode: 0o644 });
  await writeSecret(join(pkiDir, PKI_FILES.adminKey), bundle.adminKeyPem);
  await writeFile(join(pkiDir, PKI_FILES.adminCert), bundle.adminCertPem, { mode: 0o644 });
  await writeSecret(join(pkiDir, PKI_FILES.adminToken), bundle.adminToken + '\n');

  const withPeer = target.includes('/p2p/') ? target : `${target}/p2p/${remotePeer}`;
  const knownPeers = [withPeer, ...bundle.members.filter((m) => m.peerId !== host.peerId).flatMap((m) => m.addrs)];
  const config: ClusterConfig = {
    clusterName: bundle.clusterName,
    pskHex: Buffer.from(token.psk).toString('hex'),
    knownPeers,
    founder: bundle.founder,
    voters: bundle.voters,
    lbPool: bundle.lbPool,
  };
  await saveClusterConfig(opts.dataDir, config);
  log.info({ clusterName: bundle.clusterName, via: withPeer, members: bundle.members.length }, 'joined cluster');
  return { clusterName: bundle.clusterName, members: bundle.members, config };
}

/** host:port, [v6]:port or a bare host (default port) to a TCP multiaddr; multiaddrs pass through. */
export function toMultiaddr(address: string): string {
  const a = address.trim();
  if (a.startsWith('/')) return a;
  let host: string;
  let port = DEFAULT_MESH_PORT;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(a);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else {
    const parts = a.split(':');
    if (parts.length > 2) {
      host = a; // a bare IPv6 address
    } else {
      host = parts[0]!;
      if (parts[1] !== undefined) port = Number(parts[1]);
    }
  }
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BadRequest(`invalid address "${address}": expected host:port`);
  }
  const kind = isIP(host);
  if (kind === 4) return `/ip4/${host}/tcp/${port}`;
  if (kind === 6) return `/ip6/${host}/tcp/${port}`;
  if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new BadRequest(`invalid address "${address}": bad host name`);
  return `/dns/${host}/tcp/${port}`;
}

function encodeJson(v: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v));
}

function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BadRequest('message is not JSON');
  }
}

async function writeSecret(path: string, data: string): Promise<void> {
  await writeFile(path, data, { mode: 0o600 });
  await chmod(path, 0o600);
}

// The cluster's certificates: a CA, the API serving certificate and an admin
// client certificate, plus an admin bearer token. Generated once on first start
// and reused afterwards, so kubeconfigs handed out earlier keep working.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export interface Pki {
  dir: string;
  caCertPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  adminToken: string;
}

export interface PkiOptions {
  /** Extra DNS names or IPs for the serving certificate. */
  extraNames?: string[];
}

const FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'apiserver.crt',
  serverKey: 'apiserver.key',
  adminCert: 'admin.crt',
  adminKey: 'admin.key',
  adminToken: 'admin.token',
} as const;

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

/** Loads the PKI from dir, generating whatever is missing. */
export async function ensurePki(dir: string, opts: PkiOptions = {}): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  const subtle = webcrypto.subtle;

  let caCertPem: string;
  let caKeyPem: string;
  if (existsSync(p(FILES.caCert)) && existsSync(p(FILES.caKey))) {
    caCertPem = await readFile(p(FILES.caCert), 'utf8');
    caKeyPem = await readFile(p(FILES.caKey), 'utf8');
  } else {
    const keys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const now = new Date(Date.now() - 60_000);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=mesh-ca',
      keys,
      signingAlgorithm: SIGN,
      notBefore: now,
      notAfter: new Date(now.getTime() + TEN_YEARS_MS),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    caCertPem = cert.toString('pem') + '\n';
    caKeyPem = await exportKeyPem(keys.privateKey);
    await writeSecret(p(FILES.caKey), caKeyPem);
    await writeFile(p(FILES.caCert), caCertPem, { mode: 0o644 });
  }
  const caCert = new x509.X509Certificate(caCertPem);
  const caKey = await importKeyPem(caKeyPem);

  const wantNames = servingNames(opts.extraNames ?? []);
  let serverCertPem: string;
  let serverKeyPem: string;
  if (
    existsSync(p(FILES.serverCert)) &&
    existsSync(p(FILES.serverKey)) &&
    coversNames((serverCertPem = await readFile(p(FILES.serverCert), 'utf8')), wantNames, caCertPem)
  ) {
    serverKeyPem = await readFile(p(FILES.serverKey), 'utf8');
  } else {
    // A new address or a new CA: reissue the serving certificate (keeps the CA).
    const issued = await issue(caCert, caKey, 'CN=mesh-apiserver', 'server', wantNames);
    serverCertPem = issued.certPem;
    serverKeyPem = issued.keyPem;
    await writeSecret(p(FILES.serverKey), serverKeyPem);
    await writeFile(p(FILES.serverCert), serverCertPem, { mode: 0o644 });
  }

  let adminCertPem: string;
  let adminKeyPem: string;
  if (existsSync(p(FILES.adminCert)) && existsSync(p(FILES.adminKey))) {
    adminCertPem = await readFile(p(FILES.adminCert), 'utf8');
    adminKeyPem = await readFile(p(FILES.adminKey), 'utf8');
  } else {
    const issued = await issue(caCert, caKey, 'CN=mesh-admin, O=system:masters', 'client', []);
    adminCertPem = issued.certPem;
    adminKeyPem = issued.keyPem;
    await writeSecret(p(FILES.adminKey), adminKeyPem);
    await writeFile(p(FILES.adminCert), adminCertPem, { mode: 0o644 });
  }

  let adminToken: string;
  if (existsSync(p(FILES.adminToken))) {
    adminToken = (await readFile(p(FILES.adminToken), 'utf8')).trim();
  } else {
    adminToken = randomBytes(32).toString('base64url');
    await writeSecret(p(FILES.adminToken), adminToken + '\n');
  }

  return { dir, caCertPem, caKeyPem, serverCertPem, serverKeyPem, adminCertPem, adminKeyPem, adminToken };
}

/** localhost, loopback, the hostname, every IPv4 address of the host, plus extras. */
export function servingNames(extra: string[]): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1', hostname().toLowerCase()]);
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4') names.add(a.address);
  }
  for (const n of extra) if (n) names.add(n);
  return [...names];
}

function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || s.includes(':');
}

async function issue(
  caCert: x509.X509Certificate,
  caKey: CryptoKey,
  subject: string,
  usage: 'server' | 'client',
  names: string[],
): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = new Date(Date.now() - 60_000);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (names.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: isIp(n) ? 'ip' : 'dns', value: n }))));
  }
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: SIGN,
    notBefore: now,
    notAfter: new Date(now.getTime() + TEN_YEARS_MS),
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

function coversNames(certPem: string, names: string[], caCertPem: string): boolean {
  try {
    const cert = new NodeX509(certPem);
    if (!cert.verify(new NodeX509(caCertPem).publicKey)) return false;
    return names.every((n) => (isIp(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n) !== undefined));
  } catch {
    return false;
  }
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), EC, true, ['sign']);
}

async function writeSecret(path: string, data: string): Promise<void> {
  await writeFile(path, data, { mode: 0o600 });
  await chmod(path, 0o600);
}

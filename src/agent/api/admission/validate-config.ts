// ConfigMap and Secret rules: keys usable as file names, base64 payloads,
// the 1 MiB size cap, per-type required keys, and immutability.
import type { StatusCause } from '../errors.ts';
import { forbidden, invalid, key, required, tooLong } from './field-errors.ts';
import { isConfigMapKey } from './name-rules.ts';
import type { ConfigMapShape, SecretShape } from './schemas.ts';
import { sameJson } from './same-json.ts';

export const MAX_CONFIG_SIZE = 1024 * 1024;
const REDACTED = '<secret contents redacted>';

function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

function base64Length(s: string): number {
  return Buffer.from(s, 'base64').length;
}

function keyCauses(map: Record<string, string> | null | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const k of Object.keys(map ?? {})) for (const m of isConfigMapKey(k)) causes.push(invalid(key(path, k), k, m));
  return causes;
}

export function validateConfigMap(cm: ConfigMapShape): StatusCause[] {
  const causes = [...keyCauses(cm.data, 'data'), ...keyCauses(cm.binaryData, 'binaryData')];
  let total = 0;
  for (const v of Object.values(cm.data ?? {})) total += Buffer.byteLength(v);
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) {
    if (cm.data && Object.hasOwn(cm.data, k)) causes.push(invalid(key('binaryData', k), k, 'duplicate of key present in data'));
    if (!isBase64(v)) causes.push(invalid(key('binaryData', k), v.length > 32 ? `${v.slice(0, 32)}...` : v, 'illegal base64 data'));
    else total += base64Length(v);
  }
  if (total > MAX_CONFIG_SIZE) causes.push(tooLong('data', MAX_CONFIG_SIZE));
  return causes;
}

const TYPE_REQUIRED_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

export function validateSecret(secret: SecretShape): StatusCause[] {
  const data = secret.data ?? {};
  const causes = keyCauses(data, 'data');
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    if (!isBase64(v)) causes.push(invalid(key('data', k), REDACTED, 'illegal base64 data'));
    else total += base64Length(v);
  }
  if (total > MAX_CONFIG_SIZE) causes.push(tooLong('data', MAX_CONFIG_SIZE));
  const type = secret.type ?? 'Opaque';
  for (const k of TYPE_REQUIRED_KEYS[type] ?? []) if (!data[k]) causes.push(required(key('data', k)));
  if (type === 'kubernetes.io/dockerconfigjson' && data['.dockerconfigjson'] && isBase64(data['.dockerconfigjson'])) {
    try {
      JSON.parse(Buffer.from(data['.dockerconfigjson'], 'base64').toString('utf8'));
    } catch (err) {
      causes.push(invalid(key('data', '.dockerconfigjson'), REDACTED, (err as Error).message));
    }
  }
  if (type === 'kubernetes.io/basic-auth' && !data.username && !data.password) {
    causes.push(required(key('data', 'username')), required(key('data', 'password')));
  }
  if (type === 'kubernetes.io/service-account-token' && !secret.metadata?.annotations?.['kubernetes.io/service-account.name']) {
    causes.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
  }
  return causes;
}

function immutableCauses(next: { immutable?: boolean | null }, old: { immutable?: boolean | null }, dataSame: boolean): StatusCause[] {
  if (old.immutable !== true) return [];
  const causes: StatusCause[] = [];
  if (next.immutable !== true) causes.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  if (!dataSame) causes.push(forbidden('data', 'field is immutable when `immutable` is set'));
  return causes;
}

export function validateConfigMapUpdate(cm: ConfigMapShape, old: ConfigMapShape): StatusCause[] {
  return immutableCauses(cm, old, sameJson(cm.data, old.data) && sameJson(cm.binaryData, old.binaryData));
}

export function validateSecretUpdate(secret: SecretShape, old: SecretShape): StatusCause[] {
  const causes = immutableCauses(secret, old, sameJson(secret.data, old.data));
  if ((secret.type ?? 'Opaque') !== (old.type ?? 'Opaque')) causes.push(invalid('type', secret.type ?? '', 'field is immutable'));
  return causes;
}

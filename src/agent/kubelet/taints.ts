// `--register-with-taints key=value:Effect,key:Effect`, as the kubelet takes it.
export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

const EFFECTS: readonly string[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Parses the flag; throws an Error naming the bad entry. */
export function parseTaints(spec: string | undefined): Taint[] {
  if (!spec) return [];
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.lastIndexOf(':');
      if (colon <= 0) throw new Error(`invalid taint "${entry}": use key[=value]:Effect`);
      const effect = entry.slice(colon + 1);
      if (!EFFECTS.includes(effect)) throw new Error(`invalid taint "${entry}": effect must be one of ${EFFECTS.join(', ')}`);
      const kv = entry.slice(0, colon);
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      const value = eq < 0 ? undefined : kv.slice(eq + 1);
      if (!KEY.test(key)) throw new Error(`invalid taint "${entry}": "${key}" is not a valid key`);
      if (value !== undefined && !VALUE.test(value)) throw new Error(`invalid taint "${entry}": "${value}" is not a valid value`);
      return value === undefined ? { key, effect: effect as TaintEffect } : { key, value, effect: effect as TaintEffect };
    });
}

// Serves one stored type under more than one version, as the Kubernetes API
// server does: objects are stored once, in the type's own (preferred) version, and
// a request that names another version is converted on the way in (before
// admission and storage) and on the way out. The store key is the same for all
// versions, so lists and watches see every object whichever version wrote it.
import type { KubeObject } from './object-types.ts';
import { BadRequest } from './errors.ts';
import { RESOURCE_TYPES, groupVersion, resourceKey, type ResourceType } from './resources.ts';
import { hpaV1Converter } from './conversion/hpa-v1.ts';

/** Converts one type between its stored version and one other version. */
export interface VersionConverter {
  /** An object in the other version -> the stored version (apiVersion is set by the caller). */
  toStored(served: KubeObject): KubeObject;
  /** A stored object -> the other version (apiVersion is set by the caller). */
  toServed(stored: KubeObject): KubeObject;
}

/** What a request sees of a type: the stored version itself, or a converted one. */
export interface VersionView {
  /** `autoscaling/v1`: the apiVersion the client sends and gets. */
  apiVersion: string;
  /** True when this is the stored version and nothing is converted. */
  stored: boolean;
  /** A request body -> the stored version. Bodies that are not objects pass through, for the registry to reject. */
  toStored(obj: KubeObject): KubeObject;
  /** A stored object -> this view's version. */
  toServed(obj: KubeObject): KubeObject;
}

export interface VersionConversions {
  /** The view for a request naming `version` (default: the stored one). Throws if that version has no converter. */
  view(type: ResourceType, version?: string): VersionView;
}

/** Keyed `${resourceKey}/${version}`, e.g. `horizontalpodautoscalers.autoscaling/v1`. */
export type ConverterTable = Readonly<Record<string, VersionConverter>>;

export const BUILT_IN_CONVERTERS: ConverterTable = {
  'horizontalpodautoscalers.autoscaling/v1': hpaV1Converter,
};

export function converterKey(type: Pick<ResourceType, 'plural' | 'group'>, version: string): string {
  return `${resourceKey(type)}/${version}`;
}

function isObject(v: unknown): v is KubeObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keeps the field where it was (first, in stored objects), so the JSON reads as usual. */
function withApiVersion(obj: KubeObject, apiVersion: string): KubeObject {
  const out = { ...obj };
  out.apiVersion = apiVersion;
  return out;
}

export function createVersionConversions(opts: { converters?: ConverterTable; types?: readonly ResourceType[] } = {}): VersionConversions {
  const converters = opts.converters ?? BUILT_IN_CONVERTERS;
  const views = new Map<string, VersionView>();

  function identity(type: ResourceType): VersionView {
    return { apiVersion: groupVersion(type), stored: true, toStored: (o) => o, toServed: (o) => o };
  }

  function converted(type: ResourceType, version: string): VersionView {
    const converter = converters[converterKey(type, version)];
    if (!converter) throw new Error(`no converter for ${resourceKey(type)} ${version}`);
    const servedVersion = groupVersion({ group: type.group, version });
    const storedVersion = groupVersion(type);
    return {
      apiVersion: servedVersion,
      stored: false,
      toStored(obj) {
        if (!isObject(obj)) return obj;
        // The same check the registry makes against the stored version, made here against the one the path names.
        if (obj.apiVersion && obj.apiVersion !== servedVersion) {
          throw new BadRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${servedVersion})`);
        }
        return withApiVersion(converter.toStored(obj), storedVersion);
      },
      toServed(obj) {
        return withApiVersion(converter.toServed(obj), servedVersion);
      },
    };
  }

  // Every alternate version must have its converter; finding out at the first request would be too late.
  for (const t of opts.types ?? RESOURCE_TYPES) for (const v of t.alternateVersions ?? []) converted(t, v);

  return {
    view(type, version = type.version) {
      const key = converterKey(type, version);
      let v = views.get(key);
      if (!v) {
        v = version === type.version ? identity(type) : converted(type, version);
        views.set(key, v);
      }
      return v;
    },
  };
}

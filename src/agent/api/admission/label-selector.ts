// Label selectors as workloads carry them: validation (ValidateLabelSelector)
// and matching, used to check that a selector selects its own template.
import type { StatusCause } from '../errors.ts';
import { child, forbidden, index, invalid, required } from './field-errors.ts';
import { isQualifiedName } from './name-rules.ts';
import { validateLabels } from './validate-meta.ts';
import type { LabelSelectorShape } from './schemas.ts';

export function validateLabelSelector(sel: LabelSelectorShape, path: string): StatusCause[] {
  const causes = validateLabels(sel.matchLabels, child(path, 'matchLabels'));
  for (const [i, e] of (sel.matchExpressions ?? []).entries()) {
    const p = index(child(path, 'matchExpressions'), i);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) causes.push(required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) causes.push(forbidden(child(p, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        causes.push(invalid(child(p, 'operator'), e.operator ?? '', 'not a valid selector operator'));
    }
    for (const m of isQualifiedName(e.key ?? '')) causes.push(invalid(child(p, 'key'), e.key ?? '', m));
  }
  return causes;
}

export function isEmptySelector(sel: LabelSelectorShape): boolean {
  return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

export function selectorMatches(sel: LabelSelectorShape, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const key = e.key ?? '';
    const has = Object.hasOwn(labels, key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

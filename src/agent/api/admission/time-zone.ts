// IANA time zones as Kubernetes accepts them for CronJob spec.timeZone (Go's
// time.LoadLocation plus the API server's character rules), checked with the
// ICU data Node ships, which is also what croner computes schedules with.

// Kubernetes' own rule for each `/`-separated part of a zone name.
const ZONE_PART = /^[A-Za-z.\-_0-9+]{1,14}$/;

const BAD_CHARACTERS =
  "must be a valid time zone name: each part may contain only letters, digits, '.', '-', '_' and '+', and be at most 14 characters";

/** Why tz is not a usable IANA zone name, or undefined when it is. */
export function timeZoneError(tz: string): string | undefined {
  if (tz === '') return 'timeZone must be nil or non-empty string';
  for (const part of tz.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !ZONE_PART.test(part)) return BAD_CHARACTERS;
  }
  if (tz.toLowerCase() === 'local') return 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones';
  // ICU also takes UTC offsets (`+01:00`, `+01`); they are not zone names and Go rejects them.
  if (tz.startsWith('+')) return `unknown time zone ${tz}`;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
  } catch {
    return `unknown time zone ${tz}`;
  }
  // ICU matches names case-insensitively; Go's zoneinfo lookup does not, so `europe/berlin` fails there.
  if (resolved !== tz && resolved.toLowerCase() === tz.toLowerCase()) return `unknown time zone ${tz}`;
  return undefined;
}

function formatterFor(tz: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'longOffset',
  });
}

/**
 * d as RFC 3339 in the zone's local time with its offset (`2025-01-15T09:00:00+01:00`),
 * `Z` for a zero offset, as Go's time.Format(time.RFC3339) prints it; UTC without a zone.
 */
export function rfc3339InZone(d: Date, tz?: string | null): string {
  const parts: Record<string, string> = {};
  for (const p of formatterFor(tz || 'UTC').formatToParts(d)) parts[p.type] = p.value;
  const gmt = parts.timeZoneName ?? 'GMT';
  const offset = gmt === 'GMT' || gmt === 'GMT+00:00' || gmt === 'GMT-00:00' ? 'Z' : gmt.slice(3);
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

// CronJob schedules as Kubernetes reads them (robfig/cron's ParseStandard):
// five fields (minute hour day-of-month month day-of-week) or one of the
// @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly nicknames.
// croner computes the times. croner accepts more than Kubernetes does (seconds
// and year fields, L, W, #, +, nicknames in any case), so those are
// turned away here first: a manifest Mesh accepts must also work on Kubernetes.
import { Cron } from 'croner';

export interface CronSchedule {
  /** The first run strictly after `after`; undefined when the schedule never fires again. */
  next(after: Date): Date | undefined;
  /** The last run at or before `at`; undefined when there is none. */
  latest(at: Date): Date | undefined;
}

export type ParsedSchedule = { ok: true; schedule: CronSchedule } | { ok: false; error: string };

const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const FIELD_NAMES = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
const MONTH_NAMES = new Set(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']);
const DAY_NAMES = new Set(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']);
const DOM = 2;
const MONTH = 3;
const DOW = 4;

/** Why a field uses syntax outside Kubernetes' cron (croner would take L, W, # and +). */
function fieldError(field: string, index: number): string | undefined {
  const names = index === MONTH ? MONTH_NAMES : index === DOW ? DAY_NAMES : undefined;
  for (const word of field.match(/[a-z]+/gi) ?? []) {
    if (!names?.has(word.toLowerCase())) return `failed to parse ${FIELD_NAMES[index]} field ${JSON.stringify(field)}: unexpected ${JSON.stringify(word)}`;
  }
  const rest = field.replace(/[a-z]+/gi, '0');
  if (!/^[0-9*?,/-]+$/.test(rest)) return `failed to parse ${FIELD_NAMES[index]} field ${JSON.stringify(field)}`;
  return undefined;
}

/**
 * The pattern croner should see. robfig treats `*` and `?` with step 1 as unrestricted,
 * which matters for day-of-month and day-of-week: with both restricted a day matches
 * when either does (Vixie cron's OR), otherwise only the restricted one counts.
 */
function toCronerPattern(expr: string): { pattern: string } | { error: string } {
  const trimmed = expr.trim();
  if (trimmed.startsWith('TZ=') || trimmed.startsWith('CRON_TZ=')) {
    return { error: 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead' };
  }
  if (trimmed.startsWith('@')) {
    if (NICKNAMES.has(trimmed)) return { pattern: trimmed };
    if (trimmed.startsWith('@every')) return { error: `${JSON.stringify(trimmed)}: the @every form is not supported` };
    return { error: `unrecognized descriptor: ${trimmed}` };
  }
  const fields = trimmed === '' ? [] : trimmed.split(/\s+/);
  if (fields.length !== 5) return { error: `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]` };
  for (let i = 0; i < fields.length; i++) {
    const err = fieldError(fields[i]!, i);
    if (err) return { error: err };
  }
  for (const i of [DOM, DOW]) if (fields[i] === '*/1' || fields[i] === '?/1') fields[i] = '*';
  return { pattern: fields.join(' ') };
}

function cronerMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/^Cron(Pattern|Date)?:\s*/, '');
}

/**
 * Parses a schedule; timeZone (IANA) is where its wall-clock times are read, UTC when absent.
 * Never throws: a bad expression or zone comes back as `error`.
 */
export function parseCronSchedule(expr: string, timeZone?: string | null): ParsedSchedule {
  const p = toCronerPattern(expr);
  if ('error' in p) return { ok: false, error: p.error };
  let cron: Cron;
  try {
    // No callback and paused: croner only computes, it starts no timer.
    cron = new Cron(p.pattern, { mode: '5-part', paused: true, sloppyRanges: true, domAndDow: false, timezone: timeZone || 'UTC' });
    // Surfaces a zone croner cannot use now rather than at the first computation.
    cron.nextRun(new Date(0));
  } catch (err) {
    return { ok: false, error: cronerMessage(err) };
  }
  const schedule: CronSchedule = {
    next(after) {
      return cron.nextRun(after) ?? undefined;
    },
    latest(at) {
      // previousRuns takes runs strictly before its reference (or earlier in the same
      // second); start one second late and step back past anything after `at`.
      let r: Date | undefined = cron.previousRuns(1, new Date(at.getTime() + 1000))[0];
      while (r && r.getTime() > at.getTime()) r = cron.previousRuns(1, r)[0];
      return r;
    },
  };
  return { ok: true, schedule };
}

/** Why expr is not a schedule Kubernetes accepts, or undefined when it is. */
export function cronScheduleError(expr: string): string | undefined {
  const p = parseCronSchedule(expr);
  return p.ok ? undefined : p.error;
}

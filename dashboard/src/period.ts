// Days and durations for the timeline reports. A person picks whole days; the reports take
// instants, and cut days at one offset from UTC. The browser's offset now is used for all of
// it, so the period's ends and StageEntries' days fall at the same midnights.
import type { Duration } from "@bufbuild/protobuf/wkt";

const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The browser's offset from UTC now, in minutes (120 for UTC+2), within what the API takes. */
export function utcOffsetMinutes(): number {
  return Math.max(-840, Math.min(840, -new Date().getTimezoneOffset()));
}

/** Midnight UTC of a "YYYY-MM-DD", in ms (NaN when it is not a day). */
function utcMidnight(day: string): number {
  const m = DAY.exec(day);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
}

/** The instant `day` begins at `offset` minutes from UTC (null when it is not a day). */
export function dayStart(day: string, offset: number): Date | null {
  const ms = utcMidnight(day);
  return Number.isNaN(ms) ? null : new Date(ms - offset * 60_000);
}

/** The day ("YYYY-MM-DD") `instant` falls on at `offset` minutes from UTC. */
export function dayOf(instant: Date, offset: number): string {
  return new Date(instant.getTime() + offset * 60_000).toISOString().slice(0, 10);
}

export function addDays(day: string, n: number): string {
  return new Date(utcMidnight(day) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `first` to `last`, both counted (0 when `last` is before `first`). */
export function daysBetween(first: string, last: string): number {
  return Math.max(0, Math.round((utcMidnight(last) - utcMidnight(first)) / DAY_MS) + 1);
}

/** The Monday starting the week of `day`, as StageEntries names weeks. */
export function mondayOf(day: string): string {
  const weekday = new Date(utcMidnight(day)).getUTCDay();
  return addDays(day, -((weekday + 6) % 7));
}

/** Every day, or every week's Monday, from `first` to `last`: a chart's empty days show too. */
export function buckets(first: string, last: string, weeks: boolean): string[] {
  const out: string[] = [];
  for (let d = weeks ? mondayOf(first) : first; d <= last && out.length < 400; d = addDays(d, weeks ? 7 : 1))
    out.push(d);
  return out;
}

/** A Duration as seconds (fractions kept: a percentile may fall between two stays). */
export function seconds(d: Duration | undefined): number {
  return d ? Number(d.seconds) + d.nanos / 1e9 : 0;
}

const unit = (u: "second" | "minute" | "hour" | "day", digits: number) =>
  new Intl.NumberFormat(undefined, { style: "unit", unit: u, unitDisplay: "long", maximumFractionDigits: digits });
const inSeconds = unit("second", 0);
const inMinutes = unit("minute", 0);
const inHours = unit("hour", 1);
const inDays = unit("day", 1);

/** "45 seconds", "12 minutes", "5.5 hours", "3.2 days": a stay's length, readable. */
export function formatDuration(s: number): string {
  if (s < 60) return inSeconds.format(s);
  if (s < 3600) return inMinutes.format(s / 60);
  if (s < 2 * 86_400) return inHours.format(s / 3600);
  return inDays.format(s / 86_400);
}

const shortDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });

/** "3 Mar": a "YYYY-MM-DD" as a chart's label, in the reader's language. */
export function formatDay(day: string): string {
  const ms = utcMidnight(day);
  return Number.isNaN(ms) ? day : shortDay.format(new Date(ms));
}

// The timeline view's three reports drawn: conversion rates (StageConversion), time in stage
// (TimeInStage) and entries over time (StageEntries). Each is a chart (bars.ts) and a table
// with the same numbers; the table's rows also carry the raw values as data-* attributes.
import { columns, hbars, type BarRow, type Series } from "./bars";
import { h, stageName, STAGES, time, userText } from "./dom";
import { ClientStage } from "./gen/crm/clientstatus/v1/client_pb";
import {
  TimelineGroup,
  type StageConversionResponse,
  type StageEntriesResponse,
  type TimeInStageResponse,
} from "./gen/crm/clientstatus/v1/client_report_service_pb";
import { formatDay, formatDuration, seconds } from "./period";

const nf = new Intl.NumberFormat();
const pf = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

/** A colour per stage for the entries chart, each at least 5:1 against the page. */
export const STAGE_COLORS: Record<number, string> = {
  [ClientStage.NEW]: "#5c6773",
  [ClientStage.FOLLOW_UP]: "#0b5cad",
  [ClientStage.FOLLOW_UP_MEETING_OR_QUOTE]: "#7b3fa0",
  [ClientStage.NOT_INTERESTED]: "#b3261e",
  [ClientStage.REAL]: "#1b7a3a",
  [ClientStage.REAL_CLUB_OR_CONTRACT]: "#a05a00",
  [ClientStage.FROZEN]: "#00737a",
};
const FIRST = "#0b5cad";
const SECOND = "#7b3fa0";

const GROUP_NAMES: Record<number, [string, string]> = {
  [TimelineGroup.OWNER]: ["Owner", "No owner"],
  [TimelineGroup.BRANCH]: ["Branch", "No branch"],
  [TimelineGroup.RECORD_SOURCE]: ["Record source", "No record source"],
};

/** A table in a scrolling region that the keyboard can reach (a wide table scrolls). */
function table(id: string, caption: string, heads: string[], rows: HTMLElement[], foot?: HTMLElement): HTMLElement {
  return h(
    "div",
    { class: "scroll", tabindex: "0", role: "region", "aria-labelledby": `${id}-caption` },
    h(
      "table",
      { class: "counts report", id },
      h("caption", { id: `${id}-caption` }, caption),
      h("thead", {}, h("tr", {}, ...heads.map((t, i) => h("th", { scope: "col", class: i ? "n" : undefined }, t)))),
      h("tbody", {}, ...rows),
      foot && h("tfoot", {}, foot),
    ),
  );
}

/** A number's cell: `n` names the column, `value` is the number as the API gave it. */
const cell = (text: string, n: string, value: string) =>
  h("td", { class: "n", "data-n": n, "data-value": value }, text);
const rate = (r: number) => pf.format(r);

export interface ConversionAsked {
  from: ClientStage;
  to: ClientStage;
  within: number;
  group: TimelineGroup;
}

interface Conv {
  /** The group; null for all clients together. */
  name: string | null;
  group: string;
  entered: bigint;
  reached: bigint;
  reachedRate: number;
  reachedWithin: bigint;
  reachedWithinRate: number;
}

export function conversionReport(asked: ConversionAsked, answer: StageConversionResponse): Node[] {
  const [groupTitle, noGroup] = GROUP_NAMES[asked.group] ?? ["Clients", ""];
  const withinText = `within ${nf.format(asked.within)} days`;
  const series: Series[] = [{ label: `Reached ${stageName(asked.to)} or beyond`, color: FIRST }];
  if (asked.within > 0) series.push({ label: `… ${withinText}`, color: SECOND });
  const total = {
    group: "",
    entered: 0n,
    reached: 0n,
    reachedRate: 0,
    reachedWithin: 0n,
    reachedWithinRate: 0,
    ...answer.total,
  };
  const grouped = asked.group !== TimelineGroup.UNSPECIFIED;
  // A node can be in one place only: the chart and the table each get their own label.
  const name = (group: string | null) => (group === null ? "All clients" : group ? userText(group) : noGroup);
  const rows: Conv[] = (grouped ? answer.groups : []).map((g) => ({ ...g, name: g.group }));
  const all: Conv[] = [...rows, { ...total, name: null }];
  const bars: BarRow[] = all.map((r) => ({
    label: name(r.name),
    values: [r.reachedRate, r.reachedWithinRate],
    texts: [rate(r.reachedRate), rate(r.reachedWithinRate)],
  }));
  const line = (r: Conv) =>
    h(
      "tr",
      r.name === null ? { class: "total", "data-total": "true" } : { "data-group": r.group },
      h("th", { scope: "row" }, name(r.name)),
      cell(nf.format(r.entered), "entered", String(r.entered)),
      cell(nf.format(r.reached), "reached", String(r.reached)),
      cell(rate(r.reachedRate), "reached-rate", String(r.reachedRate)),
      asked.within > 0 && cell(nf.format(r.reachedWithin), "reached-within", String(r.reachedWithin)),
      asked.within > 0 && cell(rate(r.reachedWithinRate), "reached-within-rate", String(r.reachedWithinRate)),
    );
  const heads = [groupTitle, `Entered ${stageName(asked.from)}`, `Reached ${stageName(asked.to)}`, "Rate"];
  if (asked.within > 0) heads.push(`Reached it ${withinText}`, "Rate");
  return [
    hbars(series, bars, 1),
    table(
      "tl-conversion-table",
      `Conversion from ${stageName(asked.from)} to ${stageName(asked.to)}`,
      heads,
      rows.map(line),
      line(all[all.length - 1]),
    ),
  ];
}

const duration = (n: bigint, s: number) => (n > 0n ? formatDuration(s) : "—");

export function timeInStageReport(answer: TimeInStageResponse): Node[] {
  const rows = answer.stages.map((t) => ({
    ...t,
    median: seconds(t.median),
    p90: seconds(t.p90),
    stillMedian: seconds(t.stillInMedian),
    stillP90: seconds(t.stillInP90),
  }));
  const series: Series[] = [
    { label: "Median", color: FIRST },
    { label: "90th percentile", color: SECOND },
  ];
  const bars = (n: (r: (typeof rows)[number]) => bigint, a: (r: (typeof rows)[number]) => [number, number]) =>
    hbars(
      series,
      rows
        .filter((r) => n(r) > 0n)
        .map((r) => ({ label: stageName(r.stage), values: a(r), texts: a(r).map((s) => formatDuration(s)) })),
    );
  const body = rows.map((r) =>
    h(
      "tr",
      { "data-stage": String(r.stage) },
      h("th", { scope: "row" }, stageName(r.stage)),
      cell(nf.format(r.left), "left", String(r.left)),
      cell(duration(r.left, r.median), "median", String(r.median)),
      cell(duration(r.left, r.p90), "p90", String(r.p90)),
      cell(nf.format(r.stillIn), "still-in", String(r.stillIn)),
      cell(duration(r.stillIn, r.stillMedian), "still-in-median", String(r.stillMedian)),
      cell(duration(r.stillIn, r.stillP90), "still-in-p90", String(r.stillP90)),
    ),
  );
  return [
    h("h4", {}, "From entering to leaving"),
    bars(
      (r) => r.left,
      (r) => [r.median, r.p90],
    ),
    h("h4", {}, "Still in the stage, for at least"),
    bars(
      (r) => r.stillIn,
      (r) => [r.stillMedian, r.stillP90],
    ),
    table(
      "tl-time-table",
      "Time in stage",
      ["Stage", "Left", "Median", "90th percentile", "Still in", "Still in for at least (median)", "(90th percentile)"],
      body,
    ),
    h("p", { class: "meta", id: "tl-as-of" }, "Those still in a stage are measured at ", time(answer.asOf), "."),
  ];
}

/** `days`: every bucket of the period, so days without entries show as gaps. */
export function entriesReport(answer: StageEntriesResponse, days: string[], weeks: boolean): Node[] {
  const counts = new Map<string, Map<ClientStage, bigint>>();
  for (const c of answer.counts) {
    const day = counts.get(c.day) ?? new Map<ClientStage, bigint>();
    day.set(c.stage, (day.get(c.stage) ?? 0n) + c.count);
    counts.set(c.day, day);
  }
  const all = [...new Set([...days, ...counts.keys()])].sort();
  const every = Math.max(1, Math.ceil(all.length / 8));
  const count = (day: string, s: ClientStage) => counts.get(day)?.get(s) ?? 0n;
  const series = STAGES.map((s) => ({ label: stageName(s), color: STAGE_COLORS[s] }));
  const label = (d: string) => (weeks ? `week of ${formatDay(d)}` : formatDay(d));
  const chart = columns(
    series,
    all.map((d, i) => ({
      label: label(d),
      tick: i % every === 0 ? formatDay(d) : "",
      parts: STAGES.map((s) => Number(count(d, s))),
    })),
  );
  const rows = all.map((d) => {
    const perStage = STAGES.map((s) => count(d, s));
    const total = perStage.reduce((a, b) => a + b, 0n);
    return h(
      "tr",
      { "data-day": d },
      h("th", { scope: "row" }, h("time", { datetime: d }, label(d))),
      ...STAGES.map((s, i) => cell(nf.format(perStage[i]), String(s), String(perStage[i]))),
      cell(nf.format(total), "total", String(total)),
    );
  });
  return [
    chart,
    table(
      "tl-entries-table",
      weeks ? "Entries per stage per week" : "Entries per stage per day",
      [weeks ? "Week from" : "Day", ...STAGES.map(stageName), "Total"],
      rows,
    ),
  ];
}

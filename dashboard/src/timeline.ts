// The stage timeline (#/timeline): over a period of whole days, conversion from one stage to
// another (StageConversion), how long entries into each stage lasted (TimeInStage), and the
// entries per stage per day or week (StageEntries). Days are cut at the browser's offset from
// UTC, which the API takes as one number of minutes.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { problem, reports } from "./api";
import { h, say, STAGES, stageName } from "./dom";
import { ClientStage } from "./gen/crm/clientstatus/v1/client_pb";
import { TimeBucket, TimelineGroup } from "./gen/crm/clientstatus/v1/client_report_service_pb";
import { addDays, buckets, dayOf, dayStart, daysBetween, utcOffsetMinutes } from "./period";
import { conversionReport, entriesReport, timeInStageReport } from "./timeline-charts";
import type { Session, View } from "./view";

/** The longest period the reports take, in days. */
const MAX_DAYS = 366;
const MAX_WITHIN = 3660;

function field(id: string, text: string, control: HTMLElement, hint?: string): HTMLElement {
  if (hint) control.setAttribute("aria-describedby", `${id}-hint`);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, text),
    control,
    hint && h("span", { class: "hint", id: `${id}-hint` }, hint),
  );
}

function options(id: string, choices: [number, string][], chosen: number): HTMLSelectElement {
  const select = h("select", { id, name: id }, ...choices.map(([v, t]) => h("option", { value: String(v) }, t)));
  select.value = String(chosen);
  return select;
}

/** "+05:30": an offset from UTC in minutes as people write it. */
function offsetText(minutes: number): string {
  const a = Math.abs(minutes);
  return `${minutes < 0 ? "−" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

export function timelineView(session: Session): View {
  const offset = utcOffsetMinutes();
  const today = dayOf(new Date(), offset);
  const stages = STAGES.map((s): [number, string] => [s, stageName(s)]);
  const first = h("input", { id: "tl-first", name: "first", type: "date", required: true, value: addDays(today, -29) });
  const last = h("input", { id: "tl-last", name: "last", type: "date", required: true, value: today });
  const fromStage = options("tl-from-stage", stages, ClientStage.NEW);
  const toStage = options("tl-to-stage", stages, ClientStage.REAL);
  const within = h("input", { id: "tl-within", type: "number", min: "0", max: String(MAX_WITHIN), value: "30" });
  const group = options(
    "tl-group",
    [
      [TimelineGroup.UNSPECIFIED, "Nothing (all clients)"],
      [TimelineGroup.OWNER, "Owner"],
      [TimelineGroup.BRANCH, "Branch"],
      [TimelineGroup.RECORD_SOURCE, "Record source"],
    ],
    TimelineGroup.UNSPECIFIED,
  );
  const bucket = options(
    "tl-bucket",
    [
      [TimeBucket.DAY, "Day"],
      [TimeBucket.WEEK, "Week (from Monday)"],
    ],
    TimeBucket.DAY,
  );
  const firstOnly = h("input", { id: "tl-first-only", type: "checkbox" });
  const deleted = h("input", { id: "tl-deleted", type: "checkbox" });
  const check = (box: HTMLInputElement, text: string) =>
    h("div", { class: "field check" }, box, h("label", { for: box.id }, text));
  const form = h(
    "form",
    { class: "filters", "aria-label": "Timeline filters", novalidate: true },
    field("tl-first", "First day", first),
    field("tl-last", "Last day", last),
    field("tl-from-stage", "Conversion from", fromStage),
    field("tl-to-stage", "to", toStage, "or a stage beyond it"),
    field("tl-within", "Within (days)", within, "0: any time"),
    field("tl-group", "Conversion by", group),
    field("tl-bucket", "Entries per", bucket),
    check(firstOnly, "Count only first entries"),
    check(deleted, "Count deleted (fictitious) clients"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")),
  );
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const part = (id: string, title: string, about: string) => {
    const body = h("div", { id: `${id}-body` });
    const heading = h("h3", { id: `${id}-title` }, title);
    return {
      heading,
      body,
      el: h("section", { id, "aria-labelledby": `${id}-title` }, heading, h("p", { class: "summary" }, about), body),
    };
  };
  const conversion = part(
    "tl-conversion",
    "Conversion",
    "Of the clients who first entered the first stage in the period, how many then reached the second (or a stage beyond it on the sales path), ever and within the days asked.",
  );
  const stay = part(
    "tl-time",
    "Time in stage",
    "Entries into each stage made in the period: how long those that left stayed, and apart, how long those still there have been there so far.",
  );
  const entries = part(
    "tl-entries",
    "Entries per stage",
    "Each time a client's path entered a stage, by when it happened.",
  );
  const element = h(
    "section",
    { id: "view-timeline", "aria-labelledby": "timeline-title", "data-loads": "0" },
    h("h2", { id: "timeline-title" }, "Timeline"),
    h(
      "p",
      { class: "summary", id: "tl-offset", "data-offset": String(offset) },
      `When clients entered each stage, by when it happened. Days run from midnight to midnight at UTC${offsetText(offset)}, this browser's time.`,
    ),
    form,
    error,
    conversion.el,
    stay.el,
    entries.el,
  );

  let loads = 0;
  // Each request counts up: an answer to an older one is dropped.
  let asking = 0;

  /** The first bad field's message, with the field marked; null when all is well. */
  function invalid(): [HTMLElement, string] | null {
    const from = first.value;
    const to = last.value;
    if (!dayStart(from, offset)) return [first, "Choose the first day."];
    if (!dayStart(to, offset)) return [last, "Choose the last day."];
    if (to < from) return [last, "The last day is before the first day."];
    if (daysBetween(from, to) > MAX_DAYS) return [last, `The period may be at most ${MAX_DAYS} days.`];
    if (fromStage.value === toStage.value) return [toStage, "Choose two different stages."];
    const n = Number(within.value || "0");
    if (!Number.isInteger(n) || n < 0 || n > MAX_WITHIN)
      return [within, `Within is a whole number of days, 0 to ${MAX_WITHIN}.`];
    return null;
  }

  async function load(): Promise<void> {
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const bad = invalid();
    if (bad) {
      bad[0].setAttribute("aria-invalid", "true");
      say(error, bad[1]);
      bad[0].focus();
      return;
    }
    say(error, "");
    const mine = ++asking;
    element.setAttribute("aria-busy", "true");
    const period = {
      from: timestampFromDate(dayStart(first.value, offset)!),
      to: timestampFromDate(dayStart(addDays(last.value, 1), offset)!),
      includeDeleted: deleted.checked,
    };
    const asked = {
      from: Number(fromStage.value) as ClientStage,
      to: Number(toStage.value) as ClientStage,
      within: Number(within.value || "0"),
      group: Number(group.value) as TimelineGroup,
    };
    const weeks = Number(bucket.value) === TimeBucket.WEEK;
    try {
      const [conv, time, counts] = await Promise.all([
        reports.stageConversion({
          ...period,
          fromStage: asked.from,
          toStage: asked.to,
          withinDays: asked.within,
          groupBy: asked.group,
        }),
        reports.timeInStage(period),
        reports.stageEntries({
          ...period,
          utcOffsetMinutes: offset,
          bucket: weeks ? TimeBucket.WEEK : TimeBucket.DAY,
          firstEntriesOnly: firstOnly.checked,
        }),
      ]);
      if (mine !== asking) return;
      conversion.heading.textContent = `Conversion from ${stageName(asked.from)} to ${stageName(asked.to)}`;
      conversion.body.replaceChildren(...conversionReport(asked, conv));
      stay.body.replaceChildren(...timeInStageReport(time));
      entries.heading.textContent = weeks ? "Entries per stage per week" : "Entries per stage per day";
      entries.body.replaceChildren(...entriesReport(counts, buckets(first.value, last.value, weeks), weeks));
      element.dataset.loads = String(++loads);
    } catch (err) {
      if (mine !== asking) return;
      const p = problem(err);
      if (p.signedOut) session.signOut(p.message);
      else say(error, p.message);
    } finally {
      if (mine === asking) element.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load();
  });
  return { element, title: "Timeline", show: () => void load() };
}

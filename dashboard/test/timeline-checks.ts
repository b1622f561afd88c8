// The browser test's checks of the timeline view and of the card's stage dates: what the page
// shows is compared with what the RPCs answer for the same question, asked from here, and
// with what the seed (seed-timeline.ts) is known to hold.
import assert from "node:assert/strict";
import { timestampDate, timestampFromDate, type Duration } from "@bufbuild/protobuf/wkt";
import type { Page } from "playwright-core";
import { ClientStage } from "../src/gen/crm/clientstatus/v1/client_pb";
import { TimeBucket, TimelineGroup } from "../src/gen/crm/clientstatus/v1/client_report_service_pb";
import { TIMELINE_OWNER, type TimelineSeed } from "./seed-timeline";
import type { Server } from "./server";

const DAY_MS = 86_400_000;
/** Asia/Kolkata, the browser context's time zone. */
const OFFSET = 330;

const dayAt = (ms: number) => new Date(ms + OFFSET * 60_000).toISOString().slice(0, 10);
const midnight = (day: string) => new Date(`${day}T00:00:00+05:30`);
const secs = (d: Duration | undefined) => (d ? Number(d.seconds) + d.nanos / 1e9 : 0);

/** Each row of a table as {data-n: data-value}, with the row's own data-* attributes. */
function rows(page: Page, selector: string): Promise<Record<string, string>[]> {
  return page.$$eval(selector, (trs) =>
    trs.map((tr) => ({
      ...((tr as HTMLElement).dataset as Record<string, string>),
      ...Object.fromEntries(
        [...tr.querySelectorAll<HTMLElement>("[data-n]")].map((td) => [td.dataset.n!, td.dataset.value!]),
      ),
    })),
  );
}

/** Sends the form from the keyboard (Enter in a field) and waits for the new answers. */
async function submit(page: Page): Promise<void> {
  const before = await page.getAttribute("#view-timeline", "data-loads");
  await page.press("#tl-within", "Enter");
  await page.waitForFunction((n) => document.querySelector("#view-timeline")?.getAttribute("data-loads") !== n, before);
}

export async function checkTimeline(page: Page, server: Server, seeded: TimelineSeed): Promise<void> {
  await page.click('a[data-route="timeline"]');
  await page.waitForFunction(() => document.querySelector("#view-timeline")?.getAttribute("data-loads") !== "0");
  assert.equal(await page.getAttribute("#tl-offset", "data-offset"), String(OFFSET), "the browser's offset");
  const unlabelled = await page.$$eval("#view-timeline input, #view-timeline select", (els) =>
    els.filter((el) => !(el as HTMLInputElement).labels?.length).map((el) => el.id),
  );
  assert.deepEqual(unlabelled, [], "every control has a label");

  // The same stage twice is refused on the page, at the field.
  await page.selectOption("#tl-to-stage", String(ClientStage.NEW));
  await page.click("#view-timeline button[type=submit]");
  assert.match(await page.locator("#view-timeline .error").innerText(), /two different stages/);
  assert.equal(await page.getAttribute("#tl-to-stage", "aria-invalid"), "true");

  const today = dayAt(Date.now());
  const first = dayAt(Date.parse(today) - 21 * DAY_MS);
  await page.fill("#tl-first", first);
  await page.fill("#tl-last", today);
  await page.selectOption("#tl-to-stage", String(ClientStage.REAL));
  await page.fill("#tl-within", "10");
  await page.selectOption("#tl-group", String(TimelineGroup.OWNER));
  await submit(page);
  assert.equal(await page.locator("#view-timeline .error").isHidden(), true);

  const period = {
    from: timestampFromDate(midnight(first)),
    to: timestampFromDate(new Date(midnight(today).getTime() + DAY_MS)),
  };
  const { reports } = server.grpc();
  const conversion = await reports.stageConversion({
    ...period,
    fromStage: ClientStage.NEW,
    toStage: ClientStage.REAL,
    withinDays: 10,
    groupBy: TimelineGroup.OWNER,
  });
  const conv = (c: (typeof conversion.groups)[number]) => ({
    entered: String(c.entered),
    reached: String(c.reached),
    "reached-rate": String(c.reachedRate),
    "reached-within": String(c.reachedWithin),
    "reached-within-rate": String(c.reachedWithinRate),
  });
  assert.deepEqual(
    await rows(page, "#tl-conversion-table tbody tr"),
    conversion.groups.map((g) => ({ group: g.group, ...conv(g) })),
  );
  assert.deepEqual(await rows(page, "#tl-conversion-table tfoot tr"), [{ total: "true", ...conv(conversion.total!) }]);
  const mine = conversion.groups.find((g) => g.group === TIMELINE_OWNER)!;
  const known = seeded.newToReal;
  assert.deepEqual(
    [mine.entered, mine.reached, mine.reachedWithin],
    [known.entered, known.reached, known.within10].map(BigInt),
  );
  const owner = page.locator(`#tl-conversion-table tr[data-group="${TIMELINE_OWNER}"] th [dir="auto"]`);
  assert.equal(await owner.evaluate((el) => getComputedStyle(el).direction), "rtl");

  const time = await reports.timeInStage(period);
  const asOf = await page.getAttribute("#tl-as-of time", "datetime");
  // Those still in a stage have been there longer by the time between the two answers.
  const later = (timestampDate(time.asOf!).getTime() - Date.parse(asOf!)) / 1000;
  const shown = await rows(page, "#tl-time-table tbody tr");
  assert.deepEqual(
    shown.map((r) => [r.stage, r.left, r.median, r.p90, r["still-in"]]),
    time.stages.map((t) => [
      String(t.stage),
      String(t.left),
      String(secs(t.median)),
      String(secs(t.p90)),
      String(t.stillIn),
    ]),
  );
  time.stages.forEach((t, i) => {
    for (const [n, d] of [
      ["still-in-median", t.stillInMedian],
      ["still-in-p90", t.stillInP90],
    ] as const) {
      const want = t.stillIn > 0n ? secs(d) - later : 0;
      assert.ok(Math.abs(Number(shown[i][n]) - want) < 0.01, `${n} of stage ${t.stage}: ${shown[i][n]} ≠ ${want}`);
    }
  });

  const entries = await reports.stageEntries({ ...period, utcOffsetMinutes: OFFSET, bucket: TimeBucket.DAY });
  const days = await rows(page, "#tl-entries-table tbody tr");
  assert.equal(days.length, 22, "every day of the period, also those without entries");
  assert.deepEqual([days[0].day, days[days.length - 1].day], [first, today]);
  const want = new Map(entries.counts.map((c) => [`${c.day} ${c.stage}`, String(c.count)]));
  for (const row of days)
    for (const stage of [1, 2, 3, 4, 5, 6, 7])
      assert.equal(row[String(stage)], want.get(`${row.day} ${stage}`) ?? "0", `${row.day}, stage ${stage}`);
  const shownTotal = days.reduce((sum, r) => sum + Number(r.total), 0);
  assert.equal(
    shownTotal,
    entries.counts.reduce((sum, c) => sum + Number(c.count), 0),
  );
  // The seed's oldest lead in the period came in 20 days ago, on that day at UTC+05:30.
  assert.ok(Number(days.find((r) => r.day === dayAt(seeded.at(20).getTime()))?.[String(ClientStage.NEW)]) >= 1);
}

export async function checkCardStageDates(page: Page, server: Server, seeded: TimelineSeed): Promise<void> {
  await page.evaluate((id) => (location.hash = `#/clients/${id}`), String(seeded.back));
  await page.waitForFunction(() => /Back/.test(document.querySelector("#card-title")?.textContent ?? ""));
  await page.locator("#stage-dates").waitFor();
  const { client } = await server.grpc().api.getClient({ clientId: seeded.back });
  const iso = (ts: Parameters<typeof timestampDate>[0] | undefined) => (ts ? timestampDate(ts).toISOString() : null);
  const shown = await page.$$eval("#stage-dates tbody tr", (trs) =>
    trs.map((tr) => [
      tr.getAttribute("data-stage"),
      tr.querySelector('[data-n="first"] time')?.getAttribute("datetime") ?? null,
      tr.querySelector('[data-n="last"] time')?.getAttribute("datetime") ?? null,
    ]),
  );
  assert.deepEqual(
    shown,
    client!.stageDates.map((d) => [String(d.stage), iso(d.firstEnteredAt), iso(d.lastEnteredAt)]),
  );
  const at = (days: number) => seeded.at(days).toISOString();
  assert.deepEqual(shown[0], [String(ClientStage.NEW), at(14), at(11)], "New, and New again after the move down");
  assert.deepEqual(shown[1], [String(ClientStage.FOLLOW_UP), at(13), at(7)], "called, and called again");
  assert.deepEqual(shown[4], [String(ClientStage.REAL), null, null], "never real");
}

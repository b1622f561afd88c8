// The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a real
// server with seeded data. Each view is checked against what the API itself answers, and a
// screenshot of each is written (not committed) for a reviewer to look at.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { CallOutcome, ClientStage } from "../src/gen/crm/clientstatus/v1/client_pb";
import { AccountingDocumentType } from "../src/gen/crm/clientstatus/v1/client_pb";
import { ReportDimension } from "../src/gen/crm/clientstatus/v1/client_report_service_pb";
import { DARK, FROZEN_MESSAGE, LIGHT, seed, type Seeded } from "./seed";
import { checkCardStageDates, checkTimeline } from "./timeline-checks";
import { freePort, rid, Server, TOKENS } from "./server";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = resolve(process.env.DASHBOARD_SCREENSHOTS ?? "../target/dashboard-screenshots");
const LIVE_WITHIN_MS = 2000;

// Another web page's origin, listed in --cors-allowed-origins; `localhost` on the same port is
// a different origin, and not listed.
const pagePort = await freePort();
const allowedOrigin = `http://127.0.0.1:${pagePort}`;
const otherOrigin = `http://localhost:${pagePort}`;
const server = new Server(["--cors-allowed-origins", allowedOrigin]);
const pages = createServer((req, res) => {
  const script = req.url === "/cross-origin.js";
  res.setHeader("content-type", script ? "text/javascript" : "text/html");
  res.end(
    script
      ? readFileSync(".build/cross-origin.js")
      : '<!doctype html><script type="module" src="/cross-origin.js"></script>',
  );
});
let context: BrowserContext;
let page: Page;
let data: Seeded;

async function shot(name: string): Promise<void> {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;

async function signIn(token: string): Promise<void> {
  await page.goto(`${server.base}/dashboard/`);
  await page.fill("#token", token);
  await page.press("#token", "Enter");
}

describe("the dashboard in Chromium", () => {
  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await server.start();
    await new Promise<void>((r) => pages.listen(pagePort, "127.0.0.1", r));
    data = await seed(server);
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "clientstatus-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1280, height: 900 },
      // Not UTC, and half an hour off the hour: the timeline's days are cut at this offset.
      timezoneId: "Asia/Kolkata",
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close();
    await server.stop();
    pages.close();
  });

  it("says clearly that a wrong token is refused", async () => {
    await signIn("not-the-token");
    const error = page.locator("#sign-in-error");
    await error.waitFor({ state: "visible" });
    assert.match(await error.innerText(), /does not accept this token/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");
    await shot("sign-in-refused");
  });

  it("shows the funnel with CountClients' numbers, in the catalogue's order and colours", async () => {
    await signIn(TOKENS.dashboard);
    await page.locator('[data-tile="total"]').waitFor();
    const { reports, catalog } = server.grpc();
    const expectFunnel = async (owner: string) => {
      const counts = await reports.countClients({ owner, groupBy: [ReportDimension.STAGE, ReportDimension.STATUS] });
      await page.waitForFunction(
        (n) => document.querySelector('[data-tile="total"]')?.getAttribute("data-count") === n,
        counts.total.toString(),
      );
      const shown = await page.$$eval("#funnel-table tr[data-status-id]", (rows) =>
        rows.map((r) => [r.getAttribute("data-status-id"), r.getAttribute("data-count")]),
      );
      const statuses = (await catalog.listStatuses({})).statuses;
      assert.deepEqual(
        shown.map(([id]) => id),
        statuses.map((s) => s.statusId.toString()),
        "every status, in catalogue order",
      );
      const want = new Map(counts.counts.map((c) => [c.statusId.toString(), c.count.toString()]));
      for (const [id, n] of shown) assert.equal(n, want.get(id!) ?? "0", `status ${id}`);
      const permanent = counts.counts
        .filter((c) => [ClientStage.REAL, ClientStage.REAL_CLUB_OR_CONTRACT, ClientStage.FROZEN].includes(c.stage))
        .reduce((sum, c) => sum + c.count, 0n);
      const tile = (kind: string) => page.getAttribute(`[data-tile="${kind}"]`, "data-count");
      assert.equal(await tile("permanent"), permanent.toString());
      assert.equal(await tile("prospects"), (counts.total - permanent).toString());
    };
    await expectFunnel("");
    const swatch = page.locator(`tr[data-status-id="${data.darkStatus}"] .swatch`);
    assert.equal(await swatch.evaluate((el) => getComputedStyle(el).backgroundColor), rgb(DARK));
    await shot("funnel");
    await page.fill("#funnel-owner", "dana");
    await page.click("#view-funnel button[type=submit]");
    await expectFunnel("dana");
    await shot("funnel-owner-dana");
  });

  it("lists clients each in its status's colour, with readable text and right-to-left names", async () => {
    await page.click('a[data-route="clients"]');
    const dark = page.locator(`tr[data-client-id="${data.dark}"]`);
    await dark.waitFor();
    const colours = (el: Element) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color];
    assert.deepEqual(await dark.evaluate(colours), [rgb(DARK), "rgb(255, 255, 255)"]);
    const light = page.locator(`tr[data-client-id="${data.light}"]`);
    assert.deepEqual(await light.evaluate(colours), [rgb(LIGHT), "rgb(0, 0, 0)"]);
    const hebrew = page.locator(`tr[data-client-id="${data.hebrew}"] a[dir="auto"]`);
    assert.equal(await hebrew.evaluate((el) => getComputedStyle(el).direction), "rtl");
    const unlabelled = await page.$$eval("input, select", (els) =>
      els.filter((el) => !(el as HTMLInputElement).labels?.length).map((el) => el.id),
    );
    assert.deepEqual(unlabelled, [], "every control has a label");
    await shot("clients");
  });

  it("opens a frozen client with its pop-up message first, then the card and timeline", async () => {
    // Frozen is an ended status: a search leaves it out unless asked.
    assert.equal(await page.locator(`tr[data-client-id="${data.frozen}"]`).count(), 0);
    await page.check("#search-ended");
    await page.click("#view-clients button[type=submit]");
    await page.locator(`tr[data-client-id="${data.frozen}"] a`).first().focus();
    await page.keyboard.press("Enter");
    const dialog = page.locator("#frozen-dialog");
    await dialog.waitFor({ state: "visible" });
    assert.equal(await page.locator("#frozen-message").innerText(), FROZEN_MESSAGE);
    assert.ok(await dialog.evaluate((d) => d.contains(document.activeElement)), "focus is in the pop-up");
    await shot("client-frozen-pop-up");
    await page.keyboard.press("Enter");
    await dialog.waitFor({ state: "hidden" });
    const history = await server.grpc().api.getClientHistory({ clientId: data.frozen });
    await page.waitForFunction(
      (n) => document.querySelectorAll("#client-timeline > li").length === n,
      history.entries.length,
    );
    assert.match(await page.locator("#card-title").innerText(), /Frozen Ltd/);
    await shot("client-card");
  });

  it("shows the stage timeline with what StageConversion, TimeInStage and StageEntries answer", async () => {
    await checkTimeline(page, server, data.timeline);
    await shot("timeline");
  });

  it("shows on a client's card when it first and last entered each stage", async () => {
    await checkCardStageDates(page, server, data.timeline);
    await shot("client-stage-dates");
  });

  it("shows a write made through gRPC in the live feeds within 2 s", async () => {
    await page.click('a[data-route="live"]');
    for (const feed of ["#feed-status", "#feed-alerts"])
      await page.locator(`${feed} .state[data-state="live"]`).waitFor();
    const { api } = server.grpc();
    const [called, invoiced] = data.spare;
    await api.recordContactAttempt({ requestId: rid(), clientId: called, outcome: CallOutcome.NO_ANSWER });
    await page.locator(`#feed-status li[data-client-id="${called}"]`).waitFor({ timeout: LIVE_WITHIN_MS });
    await api.recordInvoice({
      requestId: rid(),
      clientId: invoiced,
      documentType: AccountingDocumentType.INVOICE,
      documentNumber: "LIVE-1",
    });
    await page.locator(`#feed-alerts li[data-client-id="${invoiced}"]`).waitFor({ timeout: LIVE_WITHIN_MS });
    await shot("live");
  });

  it("lets a page of a listed origin call every read and both streams, and no other origin", async () => {
    const callFrom = async (origin: string) => {
      const other = await context.newPage();
      await other.goto(`${origin}/`);
      await other.waitForFunction(() => "callEverything" in window);
      const outcome = await other.evaluate(
        ([base, token]) =>
          (
            window as unknown as { callEverything(b: string, t: string): Promise<Record<string, string>> }
          ).callEverything(base, token),
        [server.base, TOKENS.dashboard],
      );
      await other.close();
      return outcome;
    };
    const allowed = await callFrom(allowedOrigin);
    const { GetClientMissing, ...reads } = allowed;
    assert.deepEqual(new Set(Object.values(reads)), new Set(["OK"]), JSON.stringify(allowed));
    assert.equal(GetClientMissing, "NotFound", "the page reads an error's status");
    const refused = await callFrom(otherOrigin);
    assert.deepEqual(new Set(Object.values(refused)), new Set(["blocked"]), JSON.stringify(refused));
  });

  it("says it is reconnecting while the server is away, then resumes after the last sequence", async () => {
    await server.stop();
    await page.locator('#feed-status .state[data-state="reconnecting"]').waitFor();
    await shot("live-reconnecting");
    await server.start();
    const last = data.spare[2];
    await server.grpc().api.recordContactAttempt({ requestId: rid(), clientId: last, outcome: CallOutcome.NO_ANSWER });
    await page.locator(`#feed-status li[data-client-id="${last}"]`).waitFor({ timeout: 15_000 });
    await page.locator('#feed-status .state[data-state="live"]').waitFor();
    const sequences = await page.$$eval("#feed-status li[data-sequence]", (lis) =>
      lis.map((li) => Number(li.getAttribute("data-sequence"))),
    );
    const expected = [...sequences].sort((a, b) => b - a);
    assert.deepEqual(sequences, expected, "newest first");
    assert.equal(new Set(sequences).size, sequences.length, "nothing shown twice");
    assert.equal(sequences[0] - sequences[sequences.length - 1] + 1, sequences.length, "nothing missed");
  });

  it("fits a phone's screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const route of ["funnel", "timeline", "clients", "live"]) {
      await page.click(`a[data-route="${route}"]`);
      await page.locator(`#view-${route}`).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${route} is ${overflow}px wider than the screen`);
      await shot(`phone-${route}`);
    }
  });
});

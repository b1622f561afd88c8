// A client's card (GetClient) and timeline (GetClientHistory). A frozen client's pop-up message
// comes first, in a modal dialog, each time the client is opened (DeclareFrozen's rule).
import { clients, problem } from "./api";
import {
  callOutcomeName,
  causeName,
  clientName,
  h,
  leadStatusName,
  paint,
  say,
  stageName,
  time,
  userText,
} from "./dom";
import { ClientStage, type Client, type HistoryEntry } from "./gen/crm/clientstatus/v1/client_pb";
import { stageDatesTable } from "./stage-dates";
import type { Session, View } from "./view";

const HISTORY_PAGE = 100;

export function cardView(session: Session): View {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const card = h("article", { class: "card", "aria-labelledby": "card-title" });
  const timeline = h("ol", { class: "timeline", id: "client-timeline" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show later entries");
  const frozenText = h("p", { dir: "auto", id: "frozen-message" });
  const ok = h("button", { type: "button", autofocus: true }, "I have read it");
  const dialog = h(
    "dialog",
    { id: "frozen-dialog", "aria-labelledby": "frozen-title", "aria-describedby": "frozen-message" },
    h("h2", { id: "frozen-title" }, "This client is frozen"),
    frozenText,
    h("div", { class: "actions" }, ok),
  );
  ok.addEventListener("click", () => dialog.close());
  const element = h(
    "section",
    { id: "view-card", "aria-label": "Client" },
    h("p", {}, h("a", { href: "#/clients" }, "← Back to the clients")),
    error,
    card,
    h("h3", { id: "timeline-title" }, "Timeline"),
    timeline,
    more,
    dialog,
  );

  let clientId = 0n;
  let pageToken = "";
  // Each opening counts up: answers for a client no longer shown are dropped.
  let opening = 0;

  async function open(arg: string | undefined): Promise<void> {
    say(error, "");
    card.replaceChildren();
    timeline.replaceChildren();
    more.hidden = true;
    if (!arg || !/^\d+$/.test(arg)) {
      say(error, "That is not a client number.");
      return;
    }
    clientId = BigInt(arg);
    const mine = ++opening;
    try {
      const { client, requestedClientId } = await clients.getClient({ clientId });
      if (mine !== opening) return;
      if (!client) throw new Error("no client in the answer");
      // A merged number answers with its survivor: the survivor's card and timeline show.
      clientId = client.clientId;
      if (client.stage === ClientStage.FROZEN && client.frozenMessage) {
        frozenText.textContent = client.frozenMessage;
        dialog.showModal();
      }
      renderCard(client, requestedClientId);
      pageToken = "";
      await loadHistory(mine);
    } catch (err) {
      const p = problem(err);
      if (p.signedOut) session.signOut(p.message);
      else say(error, p.message);
    }
  }

  function renderCard(c: Client, requested: bigint): void {
    const status = session.catalogue.status(c.statusId);
    const badge = h(
      "span",
      { class: "badge", "data-status-id": c.statusId.toString() },
      userText(c.statusName || status?.name || "—"),
    );
    paint(badge, status?.color);
    const classification = (id: bigint) => (id ? (session.catalogue.classification(id)?.name ?? `#${id}`) : "");
    const props = Object.entries(c.customProperties)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ");
    const rows: [string, Node | string][] = [
      ["Stage", `${stageName(c.stage)} (${c.permanent ? "permanent client" : "prospect"})`],
      ["Owner", userText(c.owner || "—")],
      ["Branch", userText(c.branch || "—")],
      ["Email", c.email || "—"],
      ["Phone", h("span", { dir: "ltr" }, c.phone || "—")],
      ["Lead status", leadStatusName(c.leadStatus)],
      ["Source", userText(c.recordSource || "—")],
      ["Created", h("span", {}, time(c.createdAt), " by ", userText(c.createdBy || "—"))],
      [
        "Last call",
        h(
          "span",
          {},
          time(c.lastCallAt),
          c.lastCallBy ? " by " : "",
          userText(c.lastCallBy),
          ` (${callOutcomeName(c.lastCallOutcome)})`,
        ),
      ],
      ["Next call", h("span", {}, time(c.nextCallAt), c.nextCallBy ? " by " : "", userText(c.nextCallBy))],
      ["Last contact", time(c.lastContactAt)],
      ["First meeting", time(c.firstMeetingAt)],
      ["Last meeting", time(c.lastMeetingAt)],
      ["First quote", time(c.firstQuoteAt)],
      ["Became real", time(c.becameRealAt)],
      ["Last allocated", time(c.lastAllocatedAt)],
      ["Customer type", classification(c.classifications?.customerTypeId ?? 0n) || "—"],
      ["Industry", classification(c.classifications?.industryId ?? 0n) || "—"],
      ["Headcount", classification(c.classifications?.headcountClassId ?? 0n) || "—"],
      ["Trading accounts", c.tradingAccountIds.join(", ") || "—"],
      ["Extra properties", userText(props || "—")],
    ];
    if (c.notInterestedReason) rows.push(["Not interested because", userText(c.notInterestedReason)]);
    if (c.frozenMessage) rows.push(["Pop-up message", userText(c.frozenMessage)]);
    if (c.frozenReason) rows.push(["Frozen because", userText(c.frozenReason)]);
    if (c.deletedAt)
      rows.push([
        "Deleted",
        h("span", {}, time(c.deletedAt), " by ", userText(c.deletedBy), " — ", userText(c.fictitiousReason)),
      ]);
    if (requested) rows.push(["Merged", `#${requested} was merged into this client`]);
    if (c.erasedAt)
      rows.push(["Erased", h("span", {}, time(c.erasedAt), " by ", userText(c.erasedBy), " — personal data removed")]);
    if (c.parentClientId)
      rows.push(["Parent", h("a", { href: `#/clients/${c.parentClientId}` }, `#${c.parentClientId}`)]);
    if (c.childClientIds.length > 0) {
      const links = c.childClientIds.flatMap((id, i) => [i ? ", " : "", h("a", { href: `#/clients/${id}` }, `#${id}`)]);
      rows.push(["Children", h("span", {}, ...links)]);
    }
    card.replaceChildren(
      h(
        "header",
        {},
        h("h2", { id: "card-title" }, userText(clientName(c.name)), h("span", { class: "number" }, ` #${c.clientId}`)),
        badge,
      ),
      h("dl", { class: "fields" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      stageDatesTable(c),
      h("h3", {}, "Recent events"),
      h("p", { class: "summary-text", dir: "auto" }, c.recentEventsSummary || "—"),
      h("p", { class: "meta" }, "Version ", c.version.toString(), ", updated ", time(c.updatedAt)),
    );
  }

  /** A detail's value, with status numbers named from the catalogue. */
  function detail(key: string, value: string): Node {
    const status =
      key.endsWith("status_id") && /^\d+$/.test(value) ? session.catalogue.status(BigInt(value)) : undefined;
    return userText(status ? `${status.name} (${value})` : value);
  }

  function entry(e: HistoryEntry): HTMLElement {
    const moved = e.oldStage !== e.newStage && e.newStage !== ClientStage.UNSPECIFIED;
    const move =
      e.oldStage === ClientStage.UNSPECIFIED
        ? `Entered ${stageName(e.newStage)}`
        : `${stageName(e.oldStage)} → ${stageName(e.newStage)}`;
    const by = e.principal && e.principal !== e.actor ? ` (sent by ${e.principal})` : "";
    const details = Object.entries(e.details);
    return h(
      "li",
      { "data-entry-id": e.entryId.toString() },
      h(
        "p",
        { class: "when" },
        time(e.occurredAt),
        " · ",
        h("strong", {}, causeName(e.cause)),
        " · ",
        userText(e.actor),
        by,
      ),
      moved && h("p", { class: "move" }, move),
      e.note && h("p", { class: "note", dir: "auto" }, e.note),
      details.length > 0 &&
        h("ul", { class: "details" }, ...details.map(([k, v]) => h("li", {}, `${k}: `, detail(k, v)))),
    );
  }

  async function loadHistory(mine: number): Promise<void> {
    try {
      // With the entries of the clients merged into this one: its whole past.
      const page = await clients.getClientHistory({ clientId, pageSize: HISTORY_PAGE, pageToken, includeMerged: true });
      if (mine !== opening) return;
      timeline.append(...page.entries.map(entry));
      pageToken = page.nextPageToken;
      more.hidden = pageToken === "";
    } catch (err) {
      const p = problem(err);
      if (p.signedOut) session.signOut(p.message);
      else say(error, p.message);
    }
  }

  more.addEventListener("click", () => void loadHistory(opening));
  return { element, title: "Client", show: (arg) => void open(arg) };
}

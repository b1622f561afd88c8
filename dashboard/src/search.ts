// Client search: the ListClients filters, each result row in its status's colour (with text
// that contrasts with it), and a link to the client's card.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { clients, problem } from "./api";
import { clientName, h, leadStatusName, paint, say, STAGES, stageName, time, userText } from "./dom";
import { ClientKind, LeadStatus, type Client } from "./gen/crm/clientstatus/v1/client_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ListClientsRequestSchema } from "./gen/crm/clientstatus/v1/client_status_service_pb";
import type { Session, View } from "./view";

const PAGE_SIZE = 50;
const LEAD_STATUSES = [LeadStatus.REGULAR, LeadStatus.RECENTLY_CREATED, LeadStatus.HOT, LeadStatus.INTERESTED_AGAIN];

type Filter = MessageInitShape<typeof ListClientsRequestSchema>;

function field(id: string, text: string, control: HTMLElement, extra = ""): HTMLElement {
  return h("div", { class: `field ${extra}`.trim() }, h("label", { for: id }, text), control);
}

function checks(legend: string, name: string, options: [string, string][]): HTMLFieldSetElement {
  return h(
    "fieldset",
    { class: "checks" },
    h("legend", {}, legend),
    ...options.map(([value, text]) => {
      const id = `search-${name}-${value}`;
      return h(
        "span",
        { class: "check" },
        h("input", { type: "checkbox", id, name, value }),
        h("label", { for: id }, text),
      );
    }),
  );
}

function checked(form: HTMLFormElement, name: string): string[] {
  return [...form.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`)].map((i) => i.value);
}

export function searchView(session: Session): View {
  const cat = session.catalogue;
  const select = (id: string, options: HTMLElement[]) =>
    h("select", { id, name: id, multiple: true, size: "5" }, ...options);
  const statusSelect = select(
    "search-status",
    STAGES.map((stage) =>
      h(
        "optgroup",
        { label: stageName(stage) },
        ...cat.ofStage(stage).map((s) => h("option", { value: s.statusId.toString() }, s.name)),
      ),
    ),
  );
  const groupSelect = select(
    "search-group",
    cat.groups.map((g) => h("option", { value: g.statusGroupId.toString() }, g.name)),
  );
  const typeSelect = select(
    "search-type",
    cat.customerTypes.map((c) => h("option", { value: c.classificationId.toString() }, c.name)),
  );
  const kind = h(
    "select",
    { id: "search-kind", name: "kind" },
    h("option", { value: String(ClientKind.UNSPECIFIED) }, "Everyone"),
    h("option", { value: String(ClientKind.PROSPECT) }, "Prospects"),
    h("option", { value: String(ClientKind.PERMANENT) }, "Permanent clients"),
  );
  const owner = h("input", { id: "search-owner", name: "owner", autocomplete: "off" });
  const branch = h("input", { id: "search-branch", name: "branch", autocomplete: "off" });
  const due = h("input", { id: "search-due", name: "due", type: "datetime-local" });
  const flag = (id: string, text: string) =>
    h("span", { class: "check" }, h("input", { type: "checkbox", id, name: id }), h("label", { for: id }, text));
  const form = h(
    "form",
    { class: "filters", "aria-label": "Search filters" },
    checks(
      "Stage",
      "stage",
      STAGES.map((s) => [String(s), stageName(s)]),
    ),
    checks(
      "Lead status",
      "lead",
      LEAD_STATUSES.map((l) => [String(l), leadStatusName(l)]),
    ),
    field("search-kind", "Clients", kind),
    field("search-owner", "Owner", owner),
    field("search-branch", "Branch", branch),
    field("search-due", "Next call due before", due),
    field("search-status", "Status", statusSelect),
    cat.groups.length > 0 && field("search-group", "Status group", groupSelect),
    cat.customerTypes.length > 0 && field("search-type", "Customer type", typeSelect),
    h(
      "fieldset",
      { class: "checks" },
      h("legend", {}, "Also"),
      flag("search-mine", "Only my clients"),
      flag("search-ended", "Include ended statuses"),
      flag("search-deleted", "Include deleted"),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "reset", class: "secondary" }, "Clear"),
    ),
  );
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const summary = h("p", { class: "summary", role: "status" });
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const head = ["No.", "Name", "Status", "Stage", "Owner", "Branch", "Next call", "Last contact"];
  const wide = new Set(["Stage", "Branch", "Last contact"]);
  const table = h(
    "table",
    { class: "clients", id: "search-results" },
    h("caption", { class: "visually-hidden" }, "Clients found"),
    h(
      "thead",
      {},
      h("tr", {}, ...head.map((t) => h("th", { scope: "col", class: wide.has(t) ? "wide" : undefined }, t))),
    ),
    body,
  );
  const element = h(
    "section",
    { id: "view-clients", "aria-labelledby": "clients-title" },
    h("h2", { id: "clients-title" }, "Clients"),
    // Open on a laptop; on a phone the results come first.
    h("details", { open: matchMedia("(min-width: 40rem)").matches }, h("summary", {}, "Filters"), form),
    error,
    summary,
    h("div", { class: "scroll" }, table),
    more,
  );

  let pageToken = "";
  let shown = 0;

  function filter(): Filter {
    const ids = (s: HTMLSelectElement) => [...s.selectedOptions].map((o) => BigInt(o.value));
    return {
      stages: checked(form, "stage").map(Number),
      leadStatuses: checked(form, "lead").map(Number),
      kind: Number(kind.value),
      owner: owner.value.trim(),
      branch: branch.value.trim(),
      assignedToMe: form.querySelector<HTMLInputElement>("#search-mine")?.checked ?? false,
      includeEnded: form.querySelector<HTMLInputElement>("#search-ended")?.checked ?? false,
      includeDeleted: form.querySelector<HTMLInputElement>("#search-deleted")?.checked ?? false,
      statusIds: ids(statusSelect),
      statusGroupIds: ids(groupSelect),
      customerTypeIds: ids(typeSelect),
      nextCallDueBefore: due.value ? timestampFromDate(new Date(due.value)) : undefined,
      pageSize: PAGE_SIZE,
    };
  }

  function row(c: Client): HTMLElement {
    const status = cat.status(c.statusId);
    const tr = h(
      "tr",
      { "data-client-id": c.clientId.toString(), "data-status-id": c.statusId.toString() },
      h("td", { class: "n" }, h("a", { href: `#/clients/${c.clientId}` }, c.clientId.toString())),
      h("td", {}, h("a", { href: `#/clients/${c.clientId}`, dir: "auto" }, clientName(c.name))),
      h("td", {}, userText(c.statusName || status?.name || "—")),
      h("td", { class: "wide" }, stageName(c.stage)),
      h("td", {}, userText(c.owner || "—")),
      h("td", { class: "wide" }, userText(c.branch || "—")),
      h("td", {}, time(c.nextCallAt)),
      h("td", { class: "wide" }, time(c.lastContactAt)),
    );
    paint(tr, status?.color);
    return tr;
  }

  async function load(append: boolean): Promise<void> {
    say(error, "");
    if (!append) {
      pageToken = "";
      shown = 0;
    }
    element.setAttribute("aria-busy", "true");
    try {
      const page = await clients.listClients({ ...filter(), pageToken });
      const rows = page.clients.map(row);
      if (append) body.append(...rows);
      else body.replaceChildren(...rows);
      shown += rows.length;
      pageToken = page.nextPageToken;
      more.hidden = pageToken === "";
      summary.textContent =
        shown === 0
          ? "No client matches."
          : `${shown} client${shown === 1 ? "" : "s"} shown${pageToken ? "; more match" : ""}.`;
    } catch (err) {
      const p = problem(err);
      if (p.signedOut) session.signOut(p.message);
      else say(error, p.message);
    } finally {
      element.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load(false);
  });
  form.addEventListener("reset", () => setTimeout(() => void load(false)));
  more.addEventListener("click", () => void load(true));
  // The first opening searches; coming back from a card keeps the results and their filters.
  let searched = false;
  const show = () => {
    if (!searched) void load(false);
    searched = true;
  };
  return { element, title: "Clients", show };
}

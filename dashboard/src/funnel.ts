// The funnel: clients per stage and per status (CountClients), in the catalogue's order and
// colours, prospects against permanent clients, filtered by owner and branch.
import { problem, reports } from "./api";
import type { Catalogue } from "./catalog";
import { h, isPermanent, paint, say, STAGES, stageName } from "./dom";
import { ReportDimension } from "./gen/crm/clientstatus/v1/client_report_service_pb";
import type { ClientStage } from "./gen/crm/clientstatus/v1/client_pb";
import type { Session, View } from "./view";

const nf = new Intl.NumberFormat();

export function funnelView(session: Session): View {
  const owner = h("input", { id: "funnel-owner", name: "owner", list: "funnel-owners", autocomplete: "off" });
  const owners = h("datalist", { id: "funnel-owners" });
  const branch = h("input", { id: "funnel-branch", name: "branch", autocomplete: "off" });
  const deleted = h("input", { id: "funnel-deleted", type: "checkbox" });
  const form = h(
    "form",
    { class: "filters", "aria-label": "Funnel filters" },
    h("div", { class: "field" }, h("label", { for: "funnel-owner" }, "Owner"), owner, owners),
    h("div", { class: "field" }, h("label", { for: "funnel-branch" }, "Branch"), branch),
    h(
      "div",
      { class: "field check" },
      deleted,
      h("label", { for: "funnel-deleted" }, "Count deleted (fictitious) clients"),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")),
  );
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const tiles = h("div", { class: "tiles", "aria-live": "polite" });
  const bars = h("div", { class: "funnel", "aria-hidden": "true" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "counts", id: "funnel-table" },
    h("caption", {}, "Clients per stage and status"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Stage / status"),
        h("th", { scope: "col", class: "n" }, "Clients"),
        h("th", { scope: "col", class: "n" }, "Of the stage"),
      ),
    ),
    body,
  );
  const element = h(
    "section",
    { id: "view-funnel", "aria-labelledby": "funnel-title" },
    h("h2", { id: "funnel-title" }, "Funnel"),
    form,
    error,
    tiles,
    bars,
    h("div", { class: "scroll" }, table),
  );

  async function load(): Promise<void> {
    say(error, "");
    element.setAttribute("aria-busy", "true");
    const filter = { owner: owner.value.trim(), branch: branch.value.trim(), includeDeleted: deleted.checked };
    try {
      const [counts, byOwner] = await Promise.all([
        reports.countClients({ ...filter, groupBy: [ReportDimension.STAGE, ReportDimension.STATUS] }),
        reports.countClients({ groupBy: [ReportDimension.OWNER], includeDeleted: filter.includeDeleted }),
      ]);
      owners.replaceChildren(...byOwner.counts.filter((c) => c.owner).map((c) => h("option", { value: c.owner })));
      const perStatus = new Map<bigint, bigint>();
      const perStage = new Map<ClientStage, bigint>();
      for (const c of counts.counts) {
        perStatus.set(c.statusId, (perStatus.get(c.statusId) ?? 0n) + c.count);
        perStage.set(c.stage, (perStage.get(c.stage) ?? 0n) + c.count);
      }
      render(session.catalogue, counts.total, perStage, perStatus);
    } catch (err) {
      const p = problem(err);
      if (p.signedOut) session.signOut(p.message);
      else say(error, p.message);
    } finally {
      element.removeAttribute("aria-busy");
    }
  }

  function render(
    cat: Catalogue,
    total: bigint,
    perStage: Map<ClientStage, bigint>,
    perStatus: Map<bigint, bigint>,
  ): void {
    let permanent = 0n;
    for (const [stage, n] of perStage) if (isPermanent(stage)) permanent += n;
    const tile = (kind: string, title: string, n: bigint) =>
      h(
        "div",
        { class: "tile", "data-tile": kind, "data-count": n.toString() },
        h("span", { class: "tile-n" }, nf.format(n)),
        h("span", {}, title),
      );
    tiles.replaceChildren(
      tile("total", "clients", total),
      tile("prospects", "prospects", total - permanent),
      tile("permanent", "permanent clients", permanent),
    );

    const widest = STAGES.reduce((m, s) => ((perStage.get(s) ?? 0n) > m ? (perStage.get(s) ?? 0n) : m), 1n);
    const rows: HTMLElement[] = [];
    const funnel: HTMLElement[] = [];
    for (const stage of STAGES) {
      const n = perStage.get(stage) ?? 0n;
      rows.push(
        h(
          "tr",
          { class: "stage-row", "data-stage": String(stage), "data-count": n.toString() },
          h("th", { scope: "row" }, stageName(stage)),
          h("td", { class: "n" }, nf.format(n)),
          h("td", { class: "n" }, ""),
        ),
      );
      const segments = h("div", { class: "bar" });
      segments.style.setProperty("width", `${Math.max(Number((n * 1000n) / widest) / 10, n > 0n ? 1 : 0)}%`);
      for (const s of cat.ofStage(stage)) {
        const k = perStatus.get(s.statusId) ?? 0n;
        const share = n > 0n ? Number((k * 1000n) / n) / 10 : 0;
        const swatch = h("span", { class: "swatch" });
        paint(swatch, s.color);
        rows.push(
          h(
            "tr",
            { class: "status-row", "data-status-id": s.statusId.toString(), "data-count": k.toString() },
            h("th", { scope: "row" }, swatch, h("span", { dir: "auto" }, s.name)),
            h("td", { class: "n" }, nf.format(k)),
            h("td", { class: "n" }, n > 0n ? `${share}%` : "—"),
          ),
        );
        if (k > 0n) {
          const seg = h("span", { class: "seg", title: `${s.name}: ${k}` });
          seg.style.setProperty("flex-grow", k.toString());
          paint(seg, s.color);
          segments.append(seg);
        }
      }
      funnel.push(
        h(
          "div",
          { class: "funnel-row" },
          h("span", { class: "funnel-label" }, `${stageName(stage)} · ${nf.format(n)}`),
          h("div", { class: "track" }, segments),
        ),
      );
    }
    body.replaceChildren(...rows);
    bars.replaceChildren(...funnel);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load();
  });
  return { element, title: "Funnel", show: () => void load() };
}

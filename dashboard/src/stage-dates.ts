// A client's stage dates on the card (GetClient's stage_dates): for each stage in rank order,
// when the client first and last entered it, by when things happened, so a late event counts
// on its own date. A stage the client never entered (or skipped) shows a dash.
import { h, STAGES, stageName, time } from "./dom";
import type { Client } from "./gen/crm/clientstatus/v1/client_pb";

export function stageDatesTable(c: Client): HTMLElement {
  const byStage = new Map(c.stageDates.map((d) => [d.stage, d]));
  const rows = STAGES.map((stage) => {
    const d = byStage.get(stage);
    return h(
      "tr",
      { "data-stage": String(stage), class: stage === c.stage ? "current" : undefined },
      h("th", { scope: "row" }, stageName(stage), stage === c.stage ? " (now)" : ""),
      h("td", { "data-n": "first" }, time(d?.firstEnteredAt)),
      h("td", { "data-n": "last" }, time(d?.lastEnteredAt)),
    );
  });
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "stage-dates", id: "stage-dates" },
      h("caption", {}, "When the client entered each stage"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Stage"),
          h("th", { scope: "col" }, "First entered"),
          h("th", { scope: "col" }, "Last entered"),
        ),
      ),
      h("tbody", {}, ...rows),
    ),
  );
}

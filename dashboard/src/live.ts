// Live feeds of the two server streams. Each follows its stream from the last sequence it saw:
// when the connection drops (a restart, a network change) it says "Reconnecting", waits a
// little longer each time, and subscribes again after that sequence, so nothing is missed or
// shown twice.
import { clients, Code, ConnectError, problem } from "./api";
import { alertKindName, causeName, clientName, h, paint, stageName, time, userText } from "./dom";
import type { Alert, StatusChangeEvent } from "./gen/crm/clientstatus/v1/client_pb";
import type { Session, View } from "./view";

/** Entries kept on screen per feed (the newest). */
const KEEP = 100;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;

interface Entry {
  sequence: bigint;
  render(): HTMLElement;
}

type Subscribe = (after: bigint, signal: AbortSignal, onOpen: () => void) => AsyncIterable<Entry>;

class Feed {
  readonly element: HTMLElement;
  private readonly state = h("p", { class: "state", role: "status" });
  private readonly list = h("ol", { class: "feed", reversed: true });
  private last = 0n;
  private pending: Entry[] = [];
  private frame = 0;

  constructor(
    readonly id: string,
    title: string,
    private readonly subscribe: Subscribe,
    private readonly session: Session,
  ) {
    this.element = h(
      "section",
      { class: "feed-panel", id, "aria-labelledby": `${id}-title` },
      h("h3", { id: `${id}-title` }, title),
      this.state,
      this.list,
    );
  }

  private setState(kind: "connecting" | "live" | "reconnecting" | "stopped", text: string): void {
    this.state.dataset.state = kind;
    this.state.textContent = text;
  }

  /** Follows the stream until `signal` aborts or the server refuses for good. */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    this.setState("connecting", "Connecting…");
    while (!signal.aborted) {
      try {
        const opened = () => {
          attempt = 0;
          this.setState("live", "Live");
        };
        for await (const entry of this.subscribe(this.last, signal, opened)) {
          if (entry.sequence <= this.last) continue;
          this.last = entry.sequence;
          this.show(entry);
        }
      } catch (err) {
        if (signal.aborted) return;
        const e = ConnectError.from(err);
        if (e.code === Code.FailedPrecondition) {
          // CURSOR_EXPIRED: what followed our cursor was pruned; go on from the oldest kept.
          this.last = 0n;
        } else {
          const p = problem(err);
          if (p.signedOut) return this.session.signOut(p.message);
          if (p.final) return this.setState("stopped", `Stopped: ${p.message}`);
        }
      }
      if (signal.aborted) return;
      attempt += 1;
      const wait = Math.min(RETRY_FIRST_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
      this.setState("reconnecting", `Reconnecting (attempt ${attempt}), to resume after event ${this.last}…`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Renders at most once a frame: a long backlog arrives as a burst. */
  private show(entry: Entry): void {
    this.pending.push(entry);
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      const fresh = this.pending
        .splice(0)
        .slice(-KEEP)
        .reverse()
        .map((e) => e.render());
      this.list.prepend(...fresh);
      while (this.list.children.length > KEEP) this.list.lastElementChild?.remove();
    });
  }
}

function clientLink(id: bigint, name: Parameters<typeof clientName>[0]): HTMLElement {
  return h("a", { href: `#/clients/${id}` }, `#${id} `, userText(clientName(name), "bdi"));
}

export function liveView(session: Session): View & { start(): void; stop(): void } {
  const cat = session.catalogue;
  const statusEntry = (ev: StatusChangeEvent): Entry => ({
    sequence: ev.sequence,
    render: () => {
      const status = cat.status(ev.newStatusId);
      const badge = h(
        "span",
        { class: "badge" },
        userText(ev.client?.statusName || status?.name || stageName(ev.newStage)),
      );
      paint(badge, status?.color);
      return h(
        "li",
        { "data-sequence": ev.sequence.toString(), "data-client-id": ev.clientId.toString() },
        h("p", { class: "when" }, time(ev.recordedAt), ` · ${causeName(ev.cause)} · `, userText(ev.actor)),
        h(
          "p",
          {},
          clientLink(ev.clientId, ev.client?.name),
          " ",
          `${stageName(ev.oldStage)} → ${stageName(ev.newStage)} `,
          badge,
        ),
      );
    },
  });
  const alertEntry = (a: Alert): Entry => ({
    sequence: a.sequence,
    render: () =>
      h(
        "li",
        { "data-sequence": a.sequence.toString(), "data-client-id": a.clientId.toString() },
        h("p", { class: "when" }, time(a.raisedAt), " · due ", time(a.dueAt)),
        h("p", {}, h("strong", {}, alertKindName(a.kind)), " ", clientLink(a.clientId, a.client?.name)),
      ),
  });
  const changes = new Feed(
    "feed-status",
    "Status changes",
    async function* (after, signal, onOpen) {
      const stream = clients.streamStatusChanges({ afterSequence: after }, { signal, onHeader: onOpen });
      for await (const r of stream) if (r.event) yield statusEntry(r.event);
    },
    session,
  );
  const alerts = new Feed(
    "feed-alerts",
    "Alerts",
    async function* (after, signal, onOpen) {
      const stream = clients.streamAlerts({ afterSequence: after }, { signal, onHeader: onOpen });
      for await (const r of stream) if (r.alert) yield alertEntry(r.alert);
    },
    session,
  );
  const element = h(
    "section",
    { id: "view-live", "aria-labelledby": "live-title" },
    h("h2", { id: "live-title" }, "Live"),
    h("div", { class: "feeds" }, changes.element, alerts.element),
  );
  let running: AbortController | null = null;
  return {
    element,
    title: "Live",
    show: () => {},
    start() {
      running = new AbortController();
      void changes.run(running.signal);
      void alerts.run(running.signal);
    },
    stop() {
      running?.abort();
      running = null;
    },
  };
}

// Small DOM and formatting helpers. Text always goes in through textContent (never innerHTML),
// so nothing a client record holds can become markup.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AlertKind, CallOutcome, ClientStage, LeadStatus } from "./gen/crm/clientstatus/v1/client_pb";

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined>;

/** `h("td", {class: "n"}, "text", child)`: an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) el.setAttribute(name, "");
    else if (typeof value === "string") el.setAttribute(name, value);
  }
  el.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return el;
}

/** Text people typed (names, notes, messages): its own direction, so Hebrew reads right to left. */
export function userText(text: string, tag: "span" | "p" | "bdi" = "span"): HTMLElement {
  return h(tag, { dir: "auto" }, text);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** The seven stages in rank order, as the funnel and filters list them. */
export const STAGES: ClientStage[] = [
  ClientStage.NEW,
  ClientStage.FOLLOW_UP,
  ClientStage.FOLLOW_UP_MEETING_OR_QUOTE,
  ClientStage.NOT_INTERESTED,
  ClientStage.REAL,
  ClientStage.REAL_CLUB_OR_CONTRACT,
  ClientStage.FROZEN,
];

const STAGE_NAMES: Record<number, string> = {
  [ClientStage.NEW]: "New",
  [ClientStage.FOLLOW_UP]: "Follow-up",
  [ClientStage.FOLLOW_UP_MEETING_OR_QUOTE]: "Meeting or quote",
  [ClientStage.NOT_INTERESTED]: "Not interested",
  [ClientStage.REAL]: "Real",
  [ClientStage.REAL_CLUB_OR_CONTRACT]: "Club or contract",
  [ClientStage.FROZEN]: "Frozen",
};

export const stageName = (s: ClientStage): string => STAGE_NAMES[s] ?? "—";

/** Permanent clients have an account card in accounting; everyone else is a prospect. */
export const isPermanent = (s: ClientStage): boolean =>
  s === ClientStage.REAL || s === ClientStage.REAL_CLUB_OR_CONTRACT || s === ClientStage.FROZEN;

/** `HOT_LEAD` → "Hot lead": an enum value's name as a label. */
function label(name: string | undefined): string {
  if (!name) return "—";
  const words = name.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export const leadStatusName = (s: LeadStatus): string => label(LeadStatus[s]);
export const callOutcomeName = (o: CallOutcome): string => label(CallOutcome[o]);
export const alertKindName = (k: AlertKind): string => label(AlertKind[k]);

/** "RecordContactAttempt" → "Record contact attempt". */
export const causeName = (cause: string): string =>
  cause.replace(/(?<=[a-z])(?=[A-Z])/g, " ").replace(/ [A-Z]/g, (m) => m.toLowerCase());

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A `<time>` in the reader's locale, or a dash when unset. */
export function time(ts: Timestamp | undefined): Node {
  if (!ts) return document.createTextNode("—");
  const d = timestampDate(ts);
  return h("time", { datetime: d.toISOString() }, dateTime.format(d));
}

/** Relative luminance of "#RRGGBB" (WCAG 2). */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Black or white, whichever contrasts more with `hex`: always at least 4.5:1 (WCAG AA). */
export function textOn(hex: string): string {
  const l = luminance(hex);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000000" : "#ffffff";
}

/** Paints `el` in a status colour with readable text on it. */
export function paint(el: HTMLElement, color: string | undefined): void {
  if (!color || !/^#[0-9a-fA-F]{6}$/.test(color)) return;
  el.style.setProperty("background-color", color);
  el.style.setProperty("color", textOn(color));
}

/** Shows `message` in a live alert region (empty: hides it). */
export function say(region: HTMLElement, message: string): void {
  region.textContent = message;
  region.hidden = message === "";
}

/** "Last, First (middle)": a company has only its last name. */
export function clientName(name: { lastName: string; firstName: string; middleName: string } | undefined): string {
  if (!name) return "—";
  const first = [name.firstName, name.middleName && `(${name.middleName})`].filter(Boolean).join(" ");
  return [name.lastName, first].filter(Boolean).join(", ") || "—";
}

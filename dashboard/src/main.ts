// Sign-in and routing. A person pastes a bearer token; it is checked with a catalogue read
// (every dashboard role may list statuses) before any view opens. Routes are hashes:
// #/funnel, #/timeline, #/clients, #/clients/123, #/live.
import { problem, token } from "./api";
import { cardView } from "./card";
import { loadCatalogue } from "./catalog";
import { byId, h, say } from "./dom";
import { funnelView } from "./funnel";
import { liveView } from "./live";
import { searchView } from "./search";
import { timelineView } from "./timeline";
import type { Session, View } from "./view";

const signIn = byId<HTMLFormElement>("sign-in");
const tokenInput = byId<HTMLInputElement>("token");
const signInError = byId("sign-in-error");
const app = byId("app");
const nav = byId("views");
const main = byId("main");

let stopLive: (() => void) | null = null;

function signOut(message: string): void {
  stopLive?.();
  stopLive = null;
  token.clear();
  app.hidden = true;
  main.replaceChildren();
  nav.replaceChildren();
  signIn.hidden = false;
  say(signInError, message);
  tokenInput.value = "";
  tokenInput.focus();
}

async function start(): Promise<void> {
  let catalogue;
  try {
    catalogue = await loadCatalogue();
  } catch (err) {
    signOut(problem(err).message);
    return;
  }
  const session: Session = { catalogue, signOut };
  const live = liveView(session);
  const views: Record<string, View> = {
    funnel: funnelView(session),
    timeline: timelineView(session),
    clients: searchView(session),
    client: cardView(session),
    live,
  };
  const tabs: [string, string][] = [
    ["funnel", "Funnel"],
    ["timeline", "Timeline"],
    ["clients", "Clients"],
    ["live", "Live"],
  ];
  const links = tabs.map(([route, text]) => h("a", { href: `#/${route}`, "data-route": route }, text));
  nav.replaceChildren(...links.map((a) => h("li", {}, a)));
  signIn.hidden = true;
  app.hidden = false;
  live.start();
  stopLive = () => live.stop();

  const route = () => {
    const [, name = "funnel", arg] = location.hash.split("/");
    const key = name === "clients" && arg ? "client" : name in views ? name : "funnel";
    const view = views[key];
    main.replaceChildren(view.element);
    for (const a of links) {
      if (a.dataset.route === (key === "client" ? "clients" : key)) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = `${view.title} · clientstatus`;
    view.show(arg);
  };
  window.onhashchange = () => {
    route();
    // Tell keyboard and screen-reader users where they are now.
    const heading = main.querySelector<HTMLElement>("h2");
    heading?.setAttribute("tabindex", "-1");
    if (!document.querySelector("dialog[open]")) heading?.focus();
  };
  route();
}

signIn.addEventListener("submit", (e) => {
  e.preventDefault();
  const pasted = tokenInput.value.trim();
  if (!pasted) {
    say(signInError, "Paste your bearer token first.");
    return;
  }
  say(signInError, "");
  token.set(pasted);
  void start();
});

byId("sign-out").addEventListener("click", () => signOut("Signed out."));

if (token.get()) void start();
else tokenInput.focus();

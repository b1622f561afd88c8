// What every view gets from the signed-in page, and what it gives back.
import type { Catalogue } from "./catalog";

export interface Session {
  catalogue: Catalogue;
  /** Ends the session with a message for the sign-in form (a refused token). */
  signOut(message: string): void;
}

export interface View {
  element: HTMLElement;
  /** Shown in the document title. */
  title: string;
  /** Called each time the view is opened; `arg` is the rest of the route (a client number). */
  show(arg?: string): void;
}

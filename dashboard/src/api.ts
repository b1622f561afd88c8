// The service over gRPC-Web, on the server that served this page, with the signed-in bearer
// token. The token lives in sessionStorage only: it goes when the tab closes.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ClientReportService } from "./gen/crm/clientstatus/v1/client_report_service_pb";
import { ClientStatusService } from "./gen/crm/clientstatus/v1/client_status_service_pb";
import { StatusCatalogService } from "./gen/crm/clientstatus/v1/status_catalog_service_pb";

const TOKEN_KEY = "clientstatus.token";

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string): void => sessionStorage.setItem(TOKEN_KEY, t),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

const bearer: Interceptor = (next) => async (req) => {
  const t = token.get();
  if (t) req.header.set("authorization", `Bearer ${t}`);
  return next(req);
};

const transport = createGrpcWebTransport({
  // The server that served the page: /dashboard/'s parent, also behind a proxy's path prefix.
  baseUrl: new URL("..", location.href).href,
  interceptors: [bearer],
});

export const clients = createClient(ClientStatusService, transport);
export const catalog = createClient(StatusCatalogService, transport);
export const reports = createClient(ClientReportService, transport);

/** What a failed call means to a person, and whether their session is over. */
export interface Problem {
  message: string;
  /** The token was refused: sign in again. */
  signedOut: boolean;
  /** Nothing will change by trying again (a role that may not, bad input). */
  final: boolean;
}

export function problem(err: unknown): Problem {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unauthenticated:
      return {
        message: "The server does not accept this token. Check that you pasted all of it, or ask for a new one.",
        signedOut: true,
        final: true,
      };
    case Code.PermissionDenied:
      return {
        message: `This token may not do this (${e.rawMessage}). The dashboard needs a token with the dashboard, agent, manager, accounting or trading role.`,
        signedOut: false,
        final: true,
      };
    case Code.Unavailable:
    case Code.Unknown:
    case Code.Canceled:
      return {
        message: "The server cannot be reached just now. Trying again may help.",
        signedOut: false,
        final: false,
      };
    case Code.InvalidArgument:
    case Code.NotFound:
    case Code.FailedPrecondition:
      return { message: e.rawMessage, signedOut: false, final: true };
    default:
      return { message: `The server answered: ${e.rawMessage}`, signedOut: false, final: false };
  }
}

export { Code, ConnectError };

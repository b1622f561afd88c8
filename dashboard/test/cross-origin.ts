// Runs in a page served from another origin than the API (the browser test bundles it): calls
// every read and both streams over gRPC-Web, and reports each call's outcome as a gRPC code
// name, or "blocked" when the browser kept the answer from the page (CORS).
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ClientStage } from "../src/gen/crm/clientstatus/v1/client_pb";
import { ClientReportService } from "../src/gen/crm/clientstatus/v1/client_report_service_pb";
import { ClientStatusService } from "../src/gen/crm/clientstatus/v1/client_status_service_pb";
import { StatusCatalogService } from "../src/gen/crm/clientstatus/v1/status_catalog_service_pb";

async function callEverything(baseUrl: string, token: string): Promise<Record<string, string>> {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [bearer] });
  const api = createClient(ClientStatusService, transport);
  const catalog = createClient(StatusCatalogService, transport);
  const reports = createClient(ClientReportService, transport);
  /** The first entry of a stream, then it is closed. */
  const first = async (stream: (signal: AbortSignal) => AsyncIterable<unknown>) => {
    const stop = new AbortController();
    for await (const _ of stream(stop.signal)) break;
    stop.abort();
  };
  const day = {
    from: timestampFromDate(new Date(Date.now() - 86_400_000)),
    to: timestampFromDate(new Date(Date.now() + 86_400_000)),
  };
  const calls: Record<string, () => Promise<unknown>> = {
    GetClient: () => api.getClient({ clientId: 1n }),
    ListClients: () => api.listClients({}),
    GetClientHistory: () => api.getClientHistory({ clientId: 1n }),
    ListStatuses: () => catalog.listStatuses({}),
    ListStatusGroups: () => catalog.listStatusGroups({}),
    ListClassifications: () => catalog.listClassifications({}),
    CountClients: () => reports.countClients({}),
    CountActivities: () => reports.countActivities(day),
    StageConversion: () => reports.stageConversion({ ...day, fromStage: ClientStage.NEW, toStage: ClientStage.REAL }),
    TimeInStage: () => reports.timeInStage(day),
    StageEntries: () => reports.stageEntries(day),
    StreamStatusChanges: () => first((signal) => api.streamStatusChanges({}, { signal })),
    StreamAlerts: () => first((signal) => api.streamAlerts({}, { signal })),
    // An error's code reaches the page only through the headers CORS exposes.
    GetClientMissing: () => api.getClient({ clientId: 999_999n }),
  };
  const outcome: Record<string, string> = {};
  for (const [name, call] of Object.entries(calls)) {
    try {
      await call();
      outcome[name] = "OK";
    } catch (err) {
      const e = ConnectError.from(err);
      // fetch() rejects with a TypeError when CORS withholds the answer.
      outcome[name] = e.cause instanceof TypeError ? "blocked" : Code[e.code];
    }
  }
  return outcome;
}

(window as unknown as { callEverything: typeof callEverything }).callEverything = callEverything;

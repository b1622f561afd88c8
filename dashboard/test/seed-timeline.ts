// Clients with a past, for the timeline view: leads from up to 40 days ago that were called,
// quoted, invoiced, declared not interested or moved back down, each event sent with the time
// it happened (occurred_at). They belong to one agent with a Hebrew name, so a report grouped
// by owner has a right-to-left group.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AccountingDocumentType, CallOutcome, ClientStage } from "../src/gen/crm/clientstatus/v1/client_pb";
import { rid, type Server } from "./server";

export const TIMELINE_OWNER = "רונית";
const DAY_MS = 86_400_000;

export interface TimelineSeed {
  /** When an event `daysAgo` days before the seed happened. */
  at(daysAgo: number): Date;
  /** New 14 days ago, called 13, set back to New 11, called again 7: two entries into each. */
  back: bigint;
  /**
   * TIMELINE_OWNER's conversion from New to Real, for a period of the last 21 days and more:
   * entered, reached, reached within 10 days.
   */
  newToReal: { entered: number; reached: number; within10: number };
}

export async function seedTimeline(server: Server): Promise<TimelineSeed> {
  const { api, catalog } = server.grpc();
  const now = Date.now();
  const at = (daysAgo: number) => new Date(now - daysAgo * DAY_MS);
  const when = (daysAgo: number) => ({ requestId: rid(), occurredAt: timestampFromMs(at(daysAgo).getTime()) });
  const create = async (lastName: string, daysAgo: number, recordSource: string) =>
    (
      await api.createClient({
        ...when(daysAgo),
        name: { lastName },
        owner: TIMELINE_OWNER,
        branch: "ירושלים",
        recordSource,
      })
    ).client!.clientId;
  const call = (clientId: bigint, daysAgo: number) =>
    api.recordContactAttempt({ ...when(daysAgo), clientId, outcome: CallOutcome.CALL_WITH_CONTENT });
  const invoice = (clientId: bigint, daysAgo: number) =>
    api.recordInvoice({
      ...when(daysAgo),
      clientId,
      documentType: AccountingDocumentType.INVOICE,
      documentNumber: `TL-${clientId}`,
    });

  // Real 8 days after it came in, by way of a call and a quote.
  const quick = await create("Quick", 20, "website");
  await call(quick, 19);
  await api.issueQuote({ ...when(15), clientId: quick, quoteId: `Q-${quick}` });
  await invoice(quick, 12);
  // Real after 15 days.
  const slow = await create("Slow", 18, "website");
  await call(slow, 17);
  await invoice(slow, 3);
  // Called, and still following up.
  await call(await create("Waiting", 16, "website"), 14);
  // Called, then not interested.
  const declined = await create("Declined", 10, "referral");
  await call(declined, 9);
  const reason = (await catalog.listStatuses({})).statuses.find((s) => s.stage === ClientStage.NOT_INTERESTED);
  await api.declareNotInterested({
    ...when(8),
    clientId: declined,
    reasonStatusId: reason!.statusId,
    note: "קנה אצל מתחרה",
  });
  // Invoiced the day after it came in, without a call: reached Real at once.
  await invoice(await create("Direct", 6, "referral"), 5);
  // Came in two days ago.
  await create("Fresh", 2, "referral");
  // Came in before the period; called within it.
  await call(await create("Old", 40, "referral"), 9);
  const back = await create("Back", 14, "website");
  await call(back, 13);
  await api.setStatus({ ...when(11), clientId: back, stage: ClientStage.NEW, reason: "wrong number" });
  await call(back, 7);
  return { at, back, newToReal: { entered: 7, reached: 3, within10: 2 } };
}

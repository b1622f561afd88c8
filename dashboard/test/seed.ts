// Seed data for the browser test, written over gRPC as the other services would: two custom
// statuses (a dark and a light colour), Hebrew and Latin names and notes, clients in most
// stages, a frozen client with a pop-up message, and clients with a past (seed-timeline.ts).
import { AccountingDocumentType, CallOutcome, ClientStage, LeadStatus } from "../src/gen/crm/clientstatus/v1/client_pb";
import { seedTimeline, type TimelineSeed } from "./seed-timeline";
import { rid, type Server } from "./server";

export const FROZEN_MESSAGE = "לא לתת אשראי — לפנות להנהלה לפני כל הזמנה";
export const DARK = "#6a1b9a";
export const LIGHT = "#ffe082";

export interface Seeded {
  darkStatus: bigint;
  lightStatus: bigint;
  /** A Hebrew-named lead, still NEW. */
  hebrew: bigint;
  /** In the dark custom status. */
  dark: bigint;
  /** In the light custom status. */
  light: bigint;
  frozen: bigint;
  /** Still NEW, for the live-feed writes. */
  spare: bigint[];
  timeline: TimelineSeed;
}

export async function seed(server: Server): Promise<Seeded> {
  const { api, catalog } = server.grpc();
  const status = async (stage: ClientStage, name: string, color: string) =>
    (await catalog.createStatus({ requestId: rid(), stage, name, color })).status!.statusId;
  const darkStatus = await status(ClientStage.FOLLOW_UP, "מעקב חם", DARK);
  const lightStatus = await status(ClientStage.FOLLOW_UP, "Waiting for papers", LIGHT);

  const create = async (
    lastName: string,
    firstName: string,
    owner: string,
    branch: string,
    leadStatus = LeadStatus.REGULAR,
  ) =>
    (await api.createClient({ requestId: rid(), name: { lastName, firstName }, owner, branch, leadStatus })).client!
      .clientId;
  const call = (clientId: bigint, note: string) =>
    api.recordContactAttempt({ requestId: rid(), clientId, outcome: CallOutcome.CALL_WITH_CONTENT, note });
  const invoice = (clientId: bigint) =>
    api.recordInvoice({
      requestId: rid(),
      clientId,
      documentType: AccountingDocumentType.INVOICE,
      documentNumber: `INV-${clientId}`,
    });
  const setStatus = (clientId: bigint, statusId: bigint) =>
    api.setStatus({ requestId: rid(), clientId, statusId, reason: "seed" });

  const hebrew = await create("כהן", "דנה", "dana", "תל אביב", LeadStatus.HOT);
  const dark = await create("Smith", "Sam", "sam", "London");
  await call(dark, "שיחה ראשונה: מעוניין בהצעה");
  await setStatus(dark, darkStatus);
  const light = await create("לוי", "משה", "dana", "תל אביב");
  await call(light, "asked for the contract papers");
  await setStatus(light, lightStatus);
  const meeting = await create("Mizrahi", "Ruth", "sam", "Haifa");
  await call(meeting, "booked");
  await api.summarizeMeeting({ requestId: rid(), clientIds: [meeting], note: "פגישה טובה" });
  for (const name of ["Levi", "Peretz"]) await invoice(await create(name, "", "dana", "תל אביב"));
  const club = await create("Biton", "Avi", "sam", "London");
  await api.recordPaidService({ requestId: rid(), clientId: club, serviceId: "CLUB-1" });
  const frozen = await create("Frozen Ltd", "", "sam", "London");
  await invoice(frozen);
  await api.declareFrozen({
    requestId: rid(),
    clientId: frozen,
    frozenMessage: FROZEN_MESSAGE,
    note: "הלקוח הפסיק לשלם",
  });
  const spare: bigint[] = [];
  for (const name of ["Alpha", "Beta", "Gamma"]) spare.push(await create(name, "", "dana", "תל אביב"));
  const timeline = await seedTimeline(server);
  return { darkStatus, lightStatus, hebrew, dark, light, frozen, spare, timeline };
}

// The organisation's catalogue (StatusCatalogService), loaded once per sign-in: statuses in the
// catalogue's order with their colours, status groups, and the customer types.
import { catalog as api } from "./api";
import { ClientStage } from "./gen/crm/clientstatus/v1/client_pb";
import {
  ClassificationKind,
  type CatalogStatus,
  type Classification,
  type StatusGroup,
} from "./gen/crm/clientstatus/v1/status_catalog_service_pb";

export interface Catalogue {
  /** Ordered by stage, then display order, then name (as ListStatuses answers). */
  statuses: CatalogStatus[];
  groups: StatusGroup[];
  customerTypes: Classification[];
  status(id: bigint): CatalogStatus | undefined;
  /** A stage's statuses in catalogue order. */
  ofStage(stage: ClientStage): CatalogStatus[];
  classification(id: bigint): Classification | undefined;
}

export async function loadCatalogue(): Promise<Catalogue> {
  const [statuses, groups, classifications] = await Promise.all([
    api.listStatuses({}),
    api.listStatusGroups({}),
    api.listClassifications({}),
  ]);
  const byId = new Map(statuses.statuses.map((s) => [s.statusId, s]));
  const classById = new Map(classifications.classifications.map((c) => [c.classificationId, c]));
  return {
    statuses: statuses.statuses,
    groups: groups.statusGroups,
    customerTypes: classifications.classifications.filter((c) => c.kind === ClassificationKind.CUSTOMER_TYPE),
    status: (id) => byId.get(id),
    ofStage: (stage) => statuses.statuses.filter((s) => s.stage === stage),
    classification: (id) => classById.get(id),
  };
}

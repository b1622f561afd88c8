-- Every ListClients filter is served by an index: lead status and branch get theirs, in page
-- order (client_id), like stage, owner, status and customer type.
CREATE INDEX clients_lead_status ON clients (lead_status, client_id);
CREATE INDEX clients_branch ON clients (branch, client_id);
-- The clients with a next call, in page order: when many calls are due, a page walks this narrow
-- index and reads only the due clients' rows, instead of every client's row on the way.
CREATE INDEX clients_due ON clients (client_id, next_call_at) WHERE next_call_at IS NOT NULL;
-- An agent's clients in one stage ("my follow-ups"): owner and stage come together, so neither
-- one's index alone serves the page when the owner has few clients in that stage.
CREATE INDEX clients_owner_stage ON clients (owner, stage, client_id);

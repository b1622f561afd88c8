-- Every ListClients filter is served by an index: lead status and branch get theirs, in page
-- order (client_id), like stage, owner, status and customer type.
CREATE INDEX clients_lead_status ON clients (lead_status, client_id);
CREATE INDEX clients_branch ON clients (branch, client_id);

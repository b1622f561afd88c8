-- The card over time (UpdateClient, MergeClients, EraseClient).

-- A merged client's survivor. Lists leave merged clients out like deleted ones; a lead matching
-- a merged client's keys is matched to its survivor. Re-pointed when the survivor is merged in
-- turn, so it always names a client that is not merged itself.
ALTER TABLE clients ADD COLUMN merged_into INTEGER REFERENCES clients (client_id);
CREATE INDEX clients_merged_into ON clients (merged_into) WHERE merged_into IS NOT NULL;

-- The client an answer holds that no history entry of its request names (a re-sent document,
-- an update that changed nothing), so an erasure finds every stored answer holding a client
-- through history's (principal, request_id) and this column, without reading the table. Rarely
-- set, so the partial index costs the common write nothing.
ALTER TABLE requests ADD COLUMN client_id INTEGER;
CREATE INDEX requests_client ON requests (client_id) WHERE client_id IS NOT NULL;

-- An erasure rewrites the snapshots of the client's stream entries: found by client, not by
-- reading the streams whole (they are kept for ever by default).
CREATE INDEX status_events_client ON status_events (client_id);
CREATE INDEX alerts_client ON alerts (client_id);

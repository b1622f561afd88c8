-- Clients, their timeline, business documents, alerts and answered requests: the same model as
-- migrations/sqlite. Times are BIGINT microseconds since the Unix epoch (UTC), as on SQLite, so
-- both backends store and compare exactly the same values.

-- One row per client. `body` is the whole domain record; the columns beside it are copies of the
-- fields that lists filter and match on, kept in step by the store.
-- IDENTITY: client numbers increase and are never reused.
CREATE TABLE clients (
    client_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version          BIGINT NOT NULL,
    stage            BIGINT NOT NULL,          -- rank: 0 NEW … 6 FROZEN
    lead_status      TEXT   NOT NULL,
    owner            TEXT   NOT NULL,
    branch           TEXT   NOT NULL,
    external_lead_id TEXT,                     -- NULL when the lead had none
    email_key        TEXT,                     -- normalised, for lead matching
    phone_key        TEXT,
    parent_client_id BIGINT REFERENCES clients (client_id),
    next_call_at     BIGINT,
    deleted_at       BIGINT,                   -- soft delete (fictitious)
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    body             JSONB  NOT NULL
);
CREATE INDEX clients_stage ON clients (stage, client_id);
CREATE INDEX clients_owner ON clients (owner, client_id);
CREATE INDEX clients_next_call ON clients (next_call_at) WHERE next_call_at IS NOT NULL;
CREATE INDEX clients_parent ON clients (parent_client_id) WHERE parent_client_id IS NOT NULL;
CREATE INDEX clients_lead_id ON clients (external_lead_id) WHERE external_lead_id IS NOT NULL;
CREATE INDEX clients_email ON clients (email_key) WHERE email_key IS NOT NULL;
CREATE INDEX clients_phone ON clients (phone_key) WHERE phone_key IS NOT NULL;

-- The immutable timeline: one entry per accepted change. (client_id, version) is unique, so a
-- lost update cannot hide: every version has exactly one entry.
CREATE TABLE history (
    entry_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    BIGINT NOT NULL REFERENCES clients (client_id),
    version      BIGINT NOT NULL,
    cause        TEXT   NOT NULL,
    actor        TEXT   NOT NULL,
    principal    TEXT   NOT NULL,
    request_id   TEXT   NOT NULL,
    occurred_at  BIGINT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    old_stage    BIGINT,                       -- NULL on creation
    new_stage    BIGINT NOT NULL,
    note         TEXT   NOT NULL,
    details      JSONB  NOT NULL,
    UNIQUE (client_id, version)
);
CREATE INDEX history_timeline ON history (client_id, occurred_at, entry_id);

-- Business documents are natural keys: recorded twice, they change nothing the second time.
CREATE TABLE documents (
    kind        TEXT   NOT NULL,
    document_id TEXT   NOT NULL,
    client_id   BIGINT NOT NULL REFERENCES clients (client_id),
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (kind, document_id)
);

-- Alerts raised by changes, written in the same transaction as the change.
CREATE TABLE alerts (
    alert_id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT   NOT NULL,
    client_id   BIGINT NOT NULL REFERENCES clients (client_id),
    occurred_at BIGINT NOT NULL,
    raised_at   BIGINT NOT NULL
);

-- Answered mutations by request_id (AIP-155): a retry gets the stored answer.
CREATE TABLE requests (
    request_id   TEXT   PRIMARY KEY,
    fingerprint  BYTEA  NOT NULL,
    outcome      JSONB  NOT NULL,
    created_at   BIGINT NOT NULL
);

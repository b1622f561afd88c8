-- Clients, their timeline, business documents, alerts and answered requests.
-- Times are INTEGER microseconds since the Unix epoch (UTC): exact, sortable, and the same
-- precision Postgres keeps.

-- One row per client. `body` is the whole domain record (JSON); the columns beside it are
-- copies of the fields that lists filter and match on, kept in step by the store.
-- AUTOINCREMENT: client numbers increase and are never reused, even after the newest is gone.
CREATE TABLE clients (
    client_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    version          INTEGER NOT NULL,
    stage            INTEGER NOT NULL,        -- rank: 0 NEW … 6 FROZEN
    lead_status      TEXT    NOT NULL,
    owner            TEXT    NOT NULL,
    branch           TEXT    NOT NULL,
    external_lead_id TEXT,                    -- NULL when the lead had none
    email_key        TEXT,                    -- normalised, for lead matching
    phone_key        TEXT,
    parent_client_id INTEGER REFERENCES clients (client_id),
    next_call_at     INTEGER,
    deleted_at       INTEGER,                 -- soft delete (fictitious)
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    body             TEXT    NOT NULL
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
    entry_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id    INTEGER NOT NULL REFERENCES clients (client_id),
    version      INTEGER NOT NULL,
    cause        TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    principal    TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    old_stage    INTEGER,                     -- NULL on creation
    new_stage    INTEGER NOT NULL,
    note         TEXT    NOT NULL,
    details      TEXT    NOT NULL,            -- JSON object of strings
    UNIQUE (client_id, version)
);
CREATE INDEX history_timeline ON history (client_id, occurred_at, entry_id);

-- Business documents are natural keys: the same quote, order, invoice, trading account or paid
-- service recorded twice changes nothing the second time.
CREATE TABLE documents (
    kind        TEXT    NOT NULL,
    document_id TEXT    NOT NULL,
    client_id   INTEGER NOT NULL REFERENCES clients (client_id),
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (kind, document_id)
);

-- The streams' sequence counters. A transaction that writes events takes the next numbers
-- from its stream's row just before it commits; the row lock makes writers take turns, so
-- numbers are assigned in commit order with no gaps (a rolled-back writer's numbers are reused).
-- A plain sequence column would not do: its values are taken before commit, and a reader could
-- pass over a row that commits late. `pruned_through` is the newest sequence retention removed.
CREATE TABLE stream_heads (
    stream         TEXT   PRIMARY KEY,
    last_seq       INTEGER NOT NULL,
    pruned_through INTEGER NOT NULL
);
INSERT INTO stream_heads (stream, last_seq, pruned_through) VALUES ('status', 0, 0), ('alerts', 0, 0);

-- Every stage change, delete and restore, written in the transaction of the change, with a
-- snapshot of the client after it so a consumer needs no second call.
CREATE TABLE status_events (
    seq          INTEGER PRIMARY KEY,
    client_id    INTEGER NOT NULL REFERENCES clients (client_id),
    kind         TEXT   NOT NULL,              -- STAGE_CHANGED, DELETED, RESTORED
    cause        TEXT   NOT NULL,              -- the RPC
    actor        TEXT   NOT NULL,
    request_id   TEXT   NOT NULL,
    old_stage    INTEGER NOT NULL,
    new_stage    INTEGER NOT NULL,
    occurred_at  INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    snapshot     TEXT    NOT NULL
);
CREATE INDEX status_events_recorded ON status_events (recorded_at);

-- Alerts, raised at most once per occurrence (`occurrence_key`), streamed like status events.
CREATE TABLE alerts (
    seq            INTEGER PRIMARY KEY,
    kind           TEXT   NOT NULL,
    client_id      INTEGER NOT NULL REFERENCES clients (client_id),
    occurrence_key TEXT   NOT NULL UNIQUE,
    due_at         INTEGER NOT NULL,             -- when the condition arose or fell due
    raised_at      INTEGER NOT NULL,
    snapshot       TEXT    NOT NULL
);
CREATE INDEX alerts_raised ON alerts (raised_at);

-- Pending time-based alerts, kept in step with each client by the write that changes it. The
-- scheduler raises those whose base time plus the kind's delay has passed, and removes them.
CREATE TABLE alert_timers (
    client_id      INTEGER NOT NULL REFERENCES clients (client_id),
    kind           TEXT   NOT NULL,
    base_at        INTEGER NOT NULL,
    occurrence_key TEXT   NOT NULL,
    PRIMARY KEY (client_id, kind)
);
CREATE INDEX alert_timers_due ON alert_timers (kind, base_at);

-- Answered mutations by request_id (AIP-155): a retry gets the stored answer.
CREATE TABLE requests (
    request_id   TEXT    PRIMARY KEY,
    fingerprint  BLOB    NOT NULL,
    outcome      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

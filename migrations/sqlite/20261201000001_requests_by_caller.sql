-- Answered requests are keyed by the caller and its request id, so two callers' ids cannot
-- collide, and are pruned after a retention period (created_at is indexed for that). SQLite
-- cannot change a primary key in place: the table is rebuilt.
ALTER TABLE requests RENAME TO requests_by_id;
CREATE TABLE requests (
    principal    TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    fingerprint  BLOB    NOT NULL,
    outcome      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, request_id)
);
-- Records of the previous release name no caller: '' marks them. A retry is still matched to
-- one of them by request id and fingerprint (which includes the caller), until retention
-- removes them.
INSERT INTO requests (principal, request_id, fingerprint, outcome, created_at)
SELECT '', request_id, fingerprint, outcome, created_at FROM requests_by_id;
DROP TABLE requests_by_id;
CREATE INDEX requests_created ON requests (created_at);

-- Bumped by every catalogue change in its own transaction: a writer that finds it unchanged
-- reuses the catalogue it read before instead of reading it again.
CREATE TABLE catalog_version (version INTEGER NOT NULL);
INSERT INTO catalog_version (version) VALUES (1);

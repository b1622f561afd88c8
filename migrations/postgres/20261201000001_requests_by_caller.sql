-- Answered requests are keyed by the caller and its request id, so two callers' ids cannot
-- collide, and are pruned after a retention period (created_at is indexed for that).
-- Records of the previous release name no caller: '' marks them. A retry is still matched to
-- one of them by request id and fingerprint (which includes the caller), until retention
-- removes them.
ALTER TABLE requests ADD COLUMN principal TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ALTER COLUMN principal DROP DEFAULT;
ALTER TABLE requests DROP CONSTRAINT requests_pkey;
ALTER TABLE requests ADD PRIMARY KEY (principal, request_id);
CREATE INDEX requests_created ON requests (created_at);

-- Bumped by every catalogue change in its own transaction: a writer that finds it unchanged
-- reuses the catalogue it read before instead of reading it again.
CREATE TABLE catalog_version (version BIGINT NOT NULL);
INSERT INTO catalog_version (version) VALUES (1);

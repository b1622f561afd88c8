-- The organisation's catalogue (seed 004): statuses under each fixed stage, status groups and
-- the classification lists. Clients reference statuses and classifications by id; foreign keys
-- keep a referenced entry from disappearing.

CREATE TABLE catalog (
    entry_id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                   TEXT    NOT NULL,  -- STATUS, STATUS_GROUP, CUSTOMER_TYPE, INDUSTRY, HEADCOUNT_CLASS
    stage                  INTEGER,           -- statuses: the stage's rank (0 NEW … 6 FROZEN)
    name                   TEXT    NOT NULL,
    display_order          INTEGER NOT NULL,
    color                  TEXT    NOT NULL,  -- statuses: #RRGGBB
    selectable_for_project INTEGER NOT NULL,
    selectable_as_supplier INTEGER NOT NULL,
    ended                  INTEGER NOT NULL,
    is_default             INTEGER NOT NULL,
    status_ids             TEXT    NOT NULL,  -- groups: JSON array of status ids
    version                INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX catalog_kind ON catalog (kind, stage, display_order);
-- One default status per stage.
CREATE UNIQUE INDEX catalog_stage_default ON catalog (stage) WHERE is_default = 1;

-- The built-in default status of each stage; its id is the stage's ClientStage value (rank + 1).
-- NOT_INTERESTED and FROZEN statuses are ended: such clients stay out of searches by default.
INSERT INTO catalog (entry_id, kind, stage, name, display_order, color, selectable_for_project,
                     selectable_as_supplier, ended, is_default, status_ids, version, created_at,
                     updated_at)
SELECT v.id, 'STATUS', v.id - 1, v.name, 1, v.color, 1, 0, v.ended, 1, '[]', 1, t.now, t.now
FROM (SELECT 1 AS id, 'New' AS name, '#1E88E5' AS color, 0 AS ended
      UNION ALL SELECT 2, 'Follow-up', '#FDD835', 0
      UNION ALL SELECT 3, 'Follow-up: meeting or quote', '#FB8C00', 0
      UNION ALL SELECT 4, 'Not interested', '#9E9E9E', 1
      UNION ALL SELECT 5, 'Real', '#43A047', 0
      UNION ALL SELECT 6, 'Real: club or contract', '#00897B', 0
      UNION ALL SELECT 7, 'Frozen', '#546E7A', 1) AS v,
     (SELECT CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) AS now) AS t;

ALTER TABLE clients ADD COLUMN status_id INTEGER REFERENCES catalog (entry_id);
ALTER TABLE clients ADD COLUMN customer_type_id INTEGER REFERENCES catalog (entry_id);
ALTER TABLE clients ADD COLUMN industry_id INTEGER REFERENCES catalog (entry_id);
ALTER TABLE clients ADD COLUMN headcount_class_id INTEGER REFERENCES catalog (entry_id);
-- Clients written before the catalogue existed take their stage's default status.
UPDATE clients SET status_id = stage + 1 WHERE status_id IS NULL;

-- The reasons of NOT_INTERESTED and FROZEN clients used to be free text: each distinct reason
-- (ignoring case) becomes an ended status of its stage, and the clients declared with it are
-- put in it, so they can be searched and grouped by reason like any other.
INSERT INTO catalog (kind, stage, name, display_order, color, selectable_for_project,
                     selectable_as_supplier, ended, is_default, status_ids, version, created_at,
                     updated_at)
SELECT 'STATUS', r.stage, r.name, 2, r.color, 1, 0, 1, 0, '[]', 1, t.now, t.now
FROM (SELECT 3 AS stage, min(trim(json_extract(body, '$.not_interested_reason'))) AS name,
             '#9E9E9E' AS color
      FROM clients WHERE stage = 3
      GROUP BY lower(trim(json_extract(body, '$.not_interested_reason')))
      UNION ALL
      SELECT 6, min(trim(json_extract(body, '$.frozen_reason'))), '#546E7A'
      FROM clients WHERE stage = 6
      GROUP BY lower(trim(json_extract(body, '$.frozen_reason')))) AS r,
     (SELECT CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) AS now) AS t
WHERE r.name IS NOT NULL AND r.name <> ''
  AND NOT EXISTS (SELECT 1 FROM catalog s
                  WHERE s.kind = 'STATUS' AND s.stage = r.stage AND lower(s.name) = lower(r.name))
ORDER BY r.stage, r.name;
UPDATE clients SET status_id = (
    SELECT s.entry_id FROM catalog s
    WHERE s.kind = 'STATUS' AND s.stage = 3
      AND lower(s.name) = lower(trim(json_extract(clients.body, '$.not_interested_reason'))))
WHERE stage = 3 AND coalesce(trim(json_extract(body, '$.not_interested_reason')), '') <> '';
UPDATE clients SET status_id = (
    SELECT s.entry_id FROM catalog s
    WHERE s.kind = 'STATUS' AND s.stage = 6
      AND lower(s.name) = lower(trim(json_extract(clients.body, '$.frozen_reason'))))
WHERE stage = 6 AND coalesce(trim(json_extract(body, '$.frozen_reason')), '') <> '';
CREATE INDEX clients_status ON clients (status_id, client_id);
CREATE INDEX clients_customer_type ON clients (customer_type_id, client_id)
    WHERE customer_type_id IS NOT NULL;
CREATE INDEX clients_industry ON clients (industry_id) WHERE industry_id IS NOT NULL;
CREATE INDEX clients_headcount_class ON clients (headcount_class_id)
    WHERE headcount_class_id IS NOT NULL;

-- Classifications used to be free text in the client record: each distinct text becomes an
-- entry of its list (texts differing only in case are one entry), and the clients reference it,
-- so nothing typed before is lost.
INSERT INTO catalog (kind, stage, name, display_order, color, selectable_for_project,
                     selectable_as_supplier, ended, is_default, status_ids, version, created_at,
                     updated_at)
SELECT l.kind, NULL, l.name, 1, '', 0, 0, 0, 0, '[]', 1, t.now, t.now
FROM (SELECT 'CUSTOMER_TYPE' AS kind,
             min(trim(json_extract(body, '$.classifications.customer_type'))) AS name
      FROM clients GROUP BY lower(trim(json_extract(body, '$.classifications.customer_type')))
      UNION ALL
      SELECT 'INDUSTRY', min(trim(json_extract(body, '$.classifications.industry')))
      FROM clients GROUP BY lower(trim(json_extract(body, '$.classifications.industry')))
      UNION ALL
      SELECT 'HEADCOUNT_CLASS', min(trim(json_extract(body, '$.classifications.headcount_class')))
      FROM clients
      GROUP BY lower(trim(json_extract(body, '$.classifications.headcount_class')))) AS l,
     (SELECT CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) AS now) AS t
WHERE l.name IS NOT NULL AND l.name <> ''
ORDER BY l.kind, l.name;
UPDATE clients SET
    customer_type_id = (SELECT entry_id FROM catalog WHERE kind = 'CUSTOMER_TYPE'
        AND lower(name) = lower(trim(json_extract(clients.body, '$.classifications.customer_type')))),
    industry_id = (SELECT entry_id FROM catalog WHERE kind = 'INDUSTRY'
        AND lower(name) = lower(trim(json_extract(clients.body, '$.classifications.industry')))),
    headcount_class_id = (SELECT entry_id FROM catalog WHERE kind = 'HEADCOUNT_CLASS'
        AND lower(name) = lower(trim(json_extract(clients.body, '$.classifications.headcount_class'))));

-- Status events carry the old and new status beside the stages.
ALTER TABLE status_events ADD COLUMN old_status_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_events ADD COLUMN new_status_id INTEGER NOT NULL DEFAULT 0;
UPDATE status_events SET old_status_id = old_stage + 1, new_status_id = new_stage + 1;

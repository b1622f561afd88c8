-- The stage timeline (docs/timeline.md): each client's path through the stages by occurred_at.
-- Every write keeps it in step; this migration fills it for the clients written before, from
-- their history, with the same rules as `domain::timeline` (the store tests compare the two).

-- One row per stay in a stage on a client's path: `seq` is its position (0: the creation),
-- `left_at` NULL while the client is still there. owner, branch and record_source are the
-- client's, and `state` 0 active, 1 deleted, 2 merged: copies the reports group and filter on
-- without reading the clients. Clustered by (stage, entered_at): a report over a period reads
-- one contiguous range per stage.
CREATE TABLE stage_visits (
    stage         INTEGER NOT NULL,
    entered_at    INTEGER NOT NULL,
    client_id     INTEGER NOT NULL REFERENCES clients (client_id),
    seq           INTEGER NOT NULL,
    left_at       INTEGER,
    owner         TEXT    NOT NULL,
    branch        TEXT    NOT NULL,
    record_source TEXT    NOT NULL,
    state         INTEGER NOT NULL,
    PRIMARY KEY (stage, entered_at, client_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX stage_visits_client ON stage_visits (client_id, seq);
-- The one open visit of each client, which the next entry closes.
CREATE INDEX stage_visits_open ON stage_visits (client_id) WHERE left_at IS NULL;

-- Each client's first entry into each stage it entered, and when it next reached each stage
-- (`reached_N` for the stage of rank N, or one beyond it on the sales path) at or after that
-- entry: NULL while it has not. What a conversion report counts, one range per stage.
CREATE TABLE stage_firsts (
    stage         INTEGER NOT NULL,
    entered_at    INTEGER NOT NULL,
    client_id     INTEGER NOT NULL REFERENCES clients (client_id),
    reached_0     INTEGER,
    reached_1     INTEGER,
    reached_2     INTEGER,
    reached_3     INTEGER,
    reached_4     INTEGER,
    reached_5     INTEGER,
    reached_6     INTEGER,
    owner         TEXT    NOT NULL,
    branch        TEXT    NOT NULL,
    record_source TEXT    NOT NULL,
    state         INTEGER NOT NULL,
    PRIMARY KEY (stage, entered_at, client_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX stage_firsts_client ON stage_firsts (client_id, stage);

-- The backfill. What each entry does to the path: 0 start, 1 put the stage (kind 1), 2
-- propose a floor under the forward-only rule; NULL nothing.
CREATE TEMP TABLE timeline_moves AS
SELECT client_id, entry_id, occurred_at AS at,
       CASE
           WHEN cause IN ('RecordContactAttempt', 'RecordMessageSent', 'ScheduleMeeting',
                          'SummarizeMeeting', 'IssueQuote', 'ApproveOrder', 'RecordInvoice',
                          'OpenTradingAccount', 'RecordPaidService') THEN 2
           WHEN cause IN ('RecordExtraProperties', 'MergeClients') AND new_stage > old_stage THEN 2
           WHEN cause IN ('RecordExtraProperties', 'MergeClients') THEN NULL
           WHEN cause IN ('DeclareNotInterested', 'DeclareFrozen', 'SetStatus') THEN 1
           WHEN cause = 'Reassign' AND json_extract(details, '$.reset_stage') = 'true' THEN 1
           WHEN new_stage <> old_stage THEN 1
       END AS kind,
       CASE
           WHEN cause IN ('RecordContactAttempt', 'RecordMessageSent', 'ScheduleMeeting') THEN 1
           WHEN cause IN ('SummarizeMeeting', 'IssueQuote') THEN 2
           WHEN cause IN ('ApproveOrder', 'RecordInvoice', 'OpenTradingAccount') THEN 4
           WHEN cause = 'RecordPaidService' THEN 5
           WHEN cause = 'Reassign' AND json_extract(details, '$.reset_stage') = 'true' THEN 0
           ELSE new_stage
       END AS value
FROM history
WHERE old_stage IS NOT NULL;

-- The path: the creation first (at the earliest time of the client's entries), then the moves
-- by (occurred_at, entry_id); each put stage starts a segment in which the stage is the
-- highest value so far. A visit begins wherever the stage changes.
CREATE TEMP TABLE timeline_visits AS
WITH steps AS (
    SELECT client_id, -1 AS entry_id, min(occurred_at) AS at, 1 AS kind,
           coalesce(max(CASE WHEN old_stage IS NULL THEN new_stage END), 0) AS value
    FROM history GROUP BY client_id
    UNION ALL
    SELECT client_id, entry_id, at, kind, value FROM timeline_moves WHERE kind IS NOT NULL
),
segments AS (
    SELECT *, sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END)
                  OVER (PARTITION BY client_id ORDER BY at, entry_id ROWS UNBOUNDED PRECEDING) AS seg
    FROM steps
),
path AS (
    SELECT client_id, entry_id, at,
           max(value) OVER (PARTITION BY client_id, seg ORDER BY at, entry_id
                            ROWS UNBOUNDED PRECEDING) AS stage
    FROM segments
),
changes AS (
    SELECT *, lag(stage) OVER (PARTITION BY client_id ORDER BY at, entry_id) AS prev FROM path
)
SELECT client_id, stage, at AS entered_at,
       row_number() OVER (PARTITION BY client_id ORDER BY at, entry_id) - 1 AS seq,
       lead(at) OVER (PARTITION BY client_id ORDER BY at, entry_id) AS left_at
FROM changes
WHERE prev IS NULL OR prev <> stage;
CREATE INDEX timeline_visits_client ON timeline_visits (client_id, seq);

INSERT INTO stage_visits (stage, entered_at, client_id, seq, left_at, owner, branch,
                          record_source, state)
SELECT v.stage, v.entered_at, v.client_id, v.seq, v.left_at, c.owner, c.branch,
       coalesce(json_extract(c.body, '$.record_source'), ''),
       CASE WHEN c.merged_into IS NOT NULL THEN 2 WHEN c.deleted_at IS NOT NULL THEN 1 ELSE 0 END
FROM timeline_visits v JOIN clients c ON c.client_id = v.client_id;

-- The first entries, and when each next reached each stage (or one beyond it on the sales
-- path).
INSERT INTO stage_firsts (stage, entered_at, client_id, reached_0, reached_1, reached_2,
                          reached_3, reached_4, reached_5, reached_6, owner, branch,
                          record_source, state)
SELECT v.stage, v.entered_at, v.client_id,
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage <> 3),
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage IN (1, 2, 4, 5, 6)),
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage IN (2, 4, 5, 6)),
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage = 3),
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage IN (4, 5, 6)),
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage = 5),
       (SELECT min(w.entered_at) FROM timeline_visits w WHERE w.client_id = v.client_id
        AND w.entered_at >= v.entered_at AND w.stage = 6),
       c.owner, c.branch, coalesce(json_extract(c.body, '$.record_source'), ''),
       CASE WHEN c.merged_into IS NOT NULL THEN 2 WHEN c.deleted_at IS NOT NULL THEN 1 ELSE 0 END
FROM timeline_visits v JOIN clients c ON c.client_id = v.client_id
WHERE NOT EXISTS (SELECT 1 FROM timeline_visits e
                  WHERE e.client_id = v.client_id AND e.stage = v.stage AND e.seq < v.seq);

-- The dates on each client record: per stage the first and last entry of its own path and of
-- the clients merged into it; the path's last stage, and the latest occurred_at replayed.
UPDATE clients SET body = json_set(body, '$.timeline', json(
    (SELECT json_object(
        'path', (SELECT CASE v.stage WHEN 0 THEN 'New' WHEN 1 THEN 'FollowUp'
                        WHEN 2 THEN 'FollowUpMeetingOrQuote' WHEN 3 THEN 'NotInterested'
                        WHEN 4 THEN 'Real' WHEN 5 THEN 'RealClubOrContract' ELSE 'Frozen' END
                 FROM timeline_visits v WHERE v.client_id = clients.client_id
                 ORDER BY v.seq DESC LIMIT 1),
        'through', (SELECT max(h.occurred_at) FROM history h WHERE h.client_id = clients.client_id),
        'dates', json((SELECT json_group_array(json_object(
                        'stage', CASE d.stage WHEN 0 THEN 'New' WHEN 1 THEN 'FollowUp'
                                 WHEN 2 THEN 'FollowUpMeetingOrQuote' WHEN 3 THEN 'NotInterested'
                                 WHEN 4 THEN 'Real' WHEN 5 THEN 'RealClubOrContract'
                                 ELSE 'Frozen' END,
                        'first', d.first, 'last', d.last))
                  FROM (SELECT v.stage, min(v.entered_at) AS first, max(v.entered_at) AS last
                        FROM timeline_visits v
                        WHERE v.client_id = clients.client_id
                           OR v.client_id IN (SELECT m.client_id FROM clients m
                                              WHERE m.merged_into = clients.client_id)
                        GROUP BY v.stage ORDER BY v.stage) AS d)))
    )))
WHERE EXISTS (SELECT 1 FROM timeline_visits v WHERE v.client_id = clients.client_id);

DROP TABLE timeline_moves;
DROP TABLE timeline_visits;

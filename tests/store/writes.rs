//! Every write primitive of `WriteTx`, and the pruning beside them, on any connection.
use std::collections::BTreeMap;

use chrono::Duration;
use clientstatus::domain::alerts::Timer;
use clientstatus::domain::catalog::{Draft, Patch};
use clientstatus::domain::lead::LeadKeys;
use clientstatus::domain::{AlertKind, CatalogKind, DocumentKey, Stage, StatusEvent};
use clientstatus::store::engine::{CatalogTx, NewAlert, NewStatusEvent, StreamTx, WriteTx};
use clientstatus::store::sql::write::{legacy_requests, prune_requests, prune_streams};
use clientstatus::store::sql::{Conn, Sql, read};
use clientstatus::store::{AlertFilter, EventFilter, HistoryRecord, Page, StoreError, Stream};

use crate::fixtures::{at, stored, tx};

const OUTCOME: &str = r#"{"clients":[],"created":true,"already_recorded":false,"moved":0}"#;

pub async fn a_request_record_is_found_by_caller_and_id_and_claimed_once<C: Conn>(c: &mut C) {
    let mut tx = tx(c);
    let now = at("2026-03-01T10:00:00Z");
    assert!(tx.find_request("dana", "r1").await.expect("find").is_none());
    assert!(
        tx.claim_request("dana", "r1", b"fp", OUTCOME.into(), None, now)
            .await
            .expect("claim")
    );
    assert!(
        !tx.claim_request("dana", "r1", b"other", OUTCOME.into(), None, now)
            .await
            .expect("again"),
        "the id is taken: the second claim reports it"
    );
    assert!(
        tx.claim_request("eli", "r1", b"fp", OUTCOME.into(), None, now)
            .await
            .expect("eli"),
        "another caller's id is its own"
    );
    let found = tx
        .find_request("dana", "r1")
        .await
        .expect("find")
        .expect("record");
    assert_eq!(found.fingerprint, b"fp");
    assert!(tx.find_request("dana", "r2").await.expect("find").is_none());
}

pub async fn a_legacy_request_record_is_seen_and_pruned_after_its_retention<C: Conn>(c: &mut C) {
    assert!(!legacy_requests(c).await.expect("legacy"));
    let mut t = tx(&mut *c);
    let old = at("2026-01-01T00:00:00Z");
    assert!(
        t.claim_request("", "old", b"fp", OUTCOME.into(), None, old)
            .await
            .expect("claim")
    );
    assert!(
        t.claim_request(
            "dana",
            "new",
            b"fp",
            OUTCOME.into(),
            None,
            old + Duration::days(40)
        )
        .await
        .expect("claim")
    );
    assert!(legacy_requests(c).await.expect("legacy"));
    let (removed, legacy_left) = prune_requests(c, old + Duration::days(30))
        .await
        .expect("prune");
    assert_eq!((removed, legacy_left), (1, false));
    let mut t = tx(&mut *c);
    assert!(
        t.find_request("dana", "new").await.expect("find").is_some(),
        "newer records stay"
    );
}

pub async fn an_inserted_client_loads_with_its_columns_and_locks_in_order<C: Conn>(c: &mut C) {
    let mut tx = tx(c);
    let when = at("2026-03-01T10:00:00Z");
    let a = stored(&mut tx, "Alpha", "a@example.com", when).await;
    let mut b = stored(&mut tx, "Beta", "b@example.com", when).await;
    assert!(b.client_id > a.client_id, "numbers increase");
    let loaded = tx
        .load_client(a.client_id)
        .await
        .expect("load")
        .expect("client");
    assert_eq!(loaded.name, a.name);
    assert_eq!(loaded.status_id, a.status_id);
    assert_eq!(
        loaded.status_name, "New",
        "the status's name is read from the catalogue"
    );
    // A child is listed on its parent.
    b.parent_client_id = Some(a.client_id);
    let body = serde_json::to_string(&b).expect("json");
    let before = tx.load_client(b.client_id).await.expect("load").expect("b");
    tx.update_client(&before, &b, &body).await.expect("update");
    let locked = tx
        .lock_clients(&[b.client_id, a.client_id, 999_999])
        .await
        .expect("lock");
    let ids: Vec<i64> = locked.iter().map(|c| c.client_id).collect();
    assert_eq!(
        ids,
        [a.client_id, b.client_id],
        "ascending, missing ones left out"
    );
    assert_eq!(locked[0].child_client_ids, [b.client_id]);
    assert!(tx.load_client(999_999).await.expect("load").is_none());
}

pub async fn an_update_writes_only_what_changed_and_refuses_a_stale_version<C: Conn>(c: &mut C) {
    let mut tx = tx(c);
    let when = at("2026-03-01T10:00:00Z");
    let before = stored(&mut tx, "Gamma", "g@example.com", when).await;
    let mut after = before.clone();
    after.version += 1;
    after.stage = Stage::FollowUp;
    after.owner = "eli".into();
    after.next_call_at = Some(when + Duration::days(1));
    let body = serde_json::to_string(&after).expect("json");
    tx.update_client(&before, &after, &body)
        .await
        .expect("update");
    let loaded = tx
        .load_client(before.client_id)
        .await
        .expect("load")
        .expect("client");
    assert_eq!(
        (loaded.stage, loaded.owner.as_str(), loaded.version),
        (Stage::FollowUp, "eli", 2)
    );
    assert_eq!(loaded.next_call_at, after.next_call_at);
    // The indexed columns follow the record: a search by the new owner finds it.
    let mut q = Sql::new("SELECT client_id FROM clients WHERE owner = $1 AND stage = $2");
    q = q.arg("eli").arg(Stage::FollowUp.rank());
    assert_eq!(tx.conn.fetch_all(q).await.expect("query").len(), 1);
    // Writing over the old version again is a conflict, not a lost update.
    let stale = tx.update_client(&before, &after, &body).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
}

pub async fn a_lead_is_found_by_each_key_and_never_a_deleted_client<C: Conn>(c: &mut C) {
    let mut tx = tx(c);
    let when = at("2026-03-01T10:00:00Z");
    let first = stored(&mut tx, "Lead", "Lead@Example.com ", when).await;
    let mut phone =
        crate::fixtures::new_client(&tx.catalog().await.expect("catalog"), "Phone", "", when);
    phone.phone = "+972-54-123 4567".into();
    phone.external_lead_id = "L-7".into();
    let body = serde_json::to_string(&phone).expect("json");
    phone.client_id = tx.insert_client(&phone, &body).await.expect("insert");
    let (by_email, on) = tx
        .find_lead(&LeadKeys::new("", "lead@example.com", ""))
        .await
        .expect("find")
        .expect("a match");
    assert_eq!((by_email.client_id, on), (first.client_id, "email"));
    let (by_phone, on) = tx
        .find_lead(&LeadKeys::new("", "", "00972541234567"))
        .await
        .expect("find")
        .expect("a match");
    assert_eq!((by_phone.client_id, on), (phone.client_id, "phone"));
    let (by_id, on) = tx
        .find_lead(&LeadKeys::new("L-7", "lead@example.com", ""))
        .await
        .expect("find")
        .expect("a match");
    assert_eq!(
        (by_id.client_id, on),
        (phone.client_id, "external_lead_id"),
        "the lead id first"
    );
    // A deleted client is no match.
    let mut deleted = first.clone();
    deleted.version += 1;
    deleted.deleted_at = Some(when);
    let body = serde_json::to_string(&deleted).expect("json");
    tx.update_client(&first, &deleted, &body)
        .await
        .expect("delete");
    assert!(
        tx.find_lead(&LeadKeys::new("", "lead@example.com", ""))
            .await
            .expect("find")
            .is_none()
    );
}

pub async fn a_document_is_recorded_once_with_its_owner<C: Conn>(c: &mut C) {
    let mut tx = tx(c);
    let when = at("2026-03-01T10:00:00Z");
    let client = stored(&mut tx, "Doc", "", when).await;
    let key = DocumentKey {
        kind: "INVOICE",
        id: "INV-1".into(),
    };
    assert_eq!(tx.document_owner(&key).await.expect("owner"), None);
    tx.insert_document(&key, client.client_id, when)
        .await
        .expect("insert");
    assert_eq!(
        tx.document_owner(&key).await.expect("owner"),
        Some(client.client_id)
    );
    let receipt = DocumentKey {
        kind: "RECEIPT",
        id: "INV-1".into(),
    };
    assert_eq!(
        tx.document_owner(&receipt).await.expect("owner"),
        None,
        "kinds are apart"
    );
    assert!(
        tx.insert_document(&key, client.client_id, when)
            .await
            .is_err(),
        "a natural key"
    );
}

fn entry(client_id: i64, version: i64, minute: i64) -> HistoryRecord {
    HistoryRecord {
        entry_id: 0,
        client_id,
        version,
        cause: "RecordContactAttempt".into(),
        actor: "dana".into(),
        principal: "agent".into(),
        request_id: format!("r{version}"),
        occurred_at: at("2026-03-01T10:00:00Z") + Duration::minutes(minute),
        recorded_at: at("2026-03-02T10:00:00Z"),
        old_stage: Some(Stage::New),
        new_stage: Stage::FollowUp,
        note: format!("note {version} שלום"),
        details: BTreeMap::from([("outcome".to_string(), "NoAnswer".to_string())]),
    }
}

pub async fn history_entries_read_back_in_their_order<C: Conn>(c: &mut C) {
    let mut t = tx(&mut *c);
    let client = stored(&mut t, "History", "", at("2026-03-01T09:00:00Z")).await;
    // Recorded in one order, happened in another.
    for (version, minute) in [(2, 30), (3, 10), (4, 20)] {
        t.insert_history(&entry(client.client_id, version, minute))
            .await
            .expect("insert");
    }
    assert!(
        t.insert_history(&entry(client.client_id, 2, 5))
            .await
            .is_err(),
        "one entry per version"
    );
    let page = Page {
        after: None,
        limit: 2,
    };
    let first = read::history(c, client.client_id, page)
        .await
        .expect("history");
    let versions: Vec<i64> = first.iter().map(|e| e.version).collect();
    assert_eq!(versions, [3, 4], "by when they happened");
    assert_eq!(first[0].note, "note 3 שלום");
    assert_eq!(first[0].details["outcome"], "NoAnswer");
    let last = first.last().expect("entry");
    let page = Page {
        after: Some((last.occurred_at, last.entry_id)),
        limit: 10,
    };
    let rest = read::history(c, client.client_id, page)
        .await
        .expect("history");
    assert_eq!(rest.iter().map(|e| e.version).collect::<Vec<_>>(), [2]);
    assert!(
        read::history(c, 999_999, page).await.is_err(),
        "an unknown client"
    );
}

pub async fn timers_are_replaced_claimed_by_due_time_and_deleted<C: Conn>(c: &mut C) {
    let mut tx = tx(c);
    let when = at("2026-03-01T10:00:00Z");
    let a = stored(&mut tx, "Timer A", "", when).await;
    let b = stored(&mut tx, "Timer B", "", when).await;
    let timer = |kind, minutes: i64, key: &str| Timer {
        kind,
        base_at: when + Duration::minutes(minutes),
        occurrence_key: key.into(),
    };
    tx.replace_timers(
        a.client_id,
        &[
            timer(AlertKind::NextCallDue, 5, "a1"),
            timer(AlertKind::FollowUpStale, 0, "a2"),
        ],
    )
    .await
    .expect("replace");
    tx.replace_timers(b.client_id, &[timer(AlertKind::NextCallDue, 1, "b1")])
        .await
        .expect("replace");
    // Replacing drops what was there.
    tx.replace_timers(a.client_id, &[timer(AlertKind::NextCallDue, 3, "a3")])
        .await
        .expect("replace");
    let due = tx
        .claim_due_timers(AlertKind::NextCallDue, when + Duration::minutes(4), 10)
        .await
        .expect("claim");
    let keys: Vec<&str> = due.iter().map(|(_, t)| t.occurrence_key.as_str()).collect();
    assert_eq!(keys, ["b1", "a3"], "oldest first, only those due");
    assert!(
        tx.claim_due_timers(AlertKind::FollowUpStale, when + Duration::days(1), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    tx.delete_timer(b.client_id, AlertKind::NextCallDue)
        .await
        .expect("delete");
    let due = tx
        .claim_due_timers(AlertKind::NextCallDue, when + Duration::minutes(4), 10)
        .await
        .expect("claim");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].0, a.client_id);
}

fn event(client_id: i64, snapshot: &str) -> NewStatusEvent {
    NewStatusEvent {
        client_id,
        kind: StatusEvent::StageChanged,
        cause: "SetStatus".into(),
        actor: "dana".into(),
        request_id: "r".into(),
        old_stage: Stage::New,
        new_stage: Stage::Real,
        old_status_id: 1,
        new_status_id: 5,
        occurred_at: at("2026-03-01T10:00:00Z"),
        recorded_at: at("2026-03-01T10:00:01Z"),
        snapshot: snapshot.into(),
    }
}

pub async fn sequences_are_taken_in_blocks_and_events_and_alerts_read_back<C: Conn>(c: &mut C) {
    let mut t = tx(&mut *c);
    let client = stored(&mut t, "Events", "", at("2026-03-01T09:00:00Z")).await;
    let snapshot = serde_json::to_string(&client).expect("json");
    assert_eq!(t.next_sequences(Stream::Status, 2).await.expect("seq"), 1);
    assert_eq!(t.next_sequences(Stream::Status, 1).await.expect("seq"), 3);
    assert_eq!(
        t.next_sequences(Stream::Alerts, 1).await.expect("seq"),
        1,
        "each stream its own"
    );
    for seq in 1..=3 {
        t.insert_status_event(seq, &event(client.client_id, &snapshot))
            .await
            .expect("event");
    }
    assert!(!t.alert_exists("k1").await.expect("exists"));
    let alert = NewAlert {
        kind: AlertKind::BecameReal,
        client_id: client.client_id,
        occurrence_key: "k1".into(),
        due_at: at("2026-03-01T10:00:00Z"),
        raised_at: at("2026-03-01T10:00:02Z"),
        snapshot: snapshot.clone(),
    };
    t.insert_alert(1, &alert).await.expect("alert");
    assert!(t.alert_exists("k1").await.expect("exists"));
    assert!(
        t.insert_alert(2, &alert).await.is_err(),
        "one alert per occurrence"
    );
    let bounds = read::stream_bounds(c, Stream::Status)
        .await
        .expect("bounds");
    assert_eq!((bounds.pruned_through, bounds.last_seq), (0, 3));
    let events = read::status_events(c, 1, &EventFilter::default(), 10)
        .await
        .expect("events");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        events[0].client.name, client.name,
        "the snapshot reads back"
    );
    assert_eq!(events[0].new_stage, Stage::Real);
    let alerts = read::alerts(c, 0, &AlertFilter::default(), 10)
        .await
        .expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::BecameReal);
}

pub async fn streams_are_pruned_by_whole_prefix<C: Conn>(c: &mut C) {
    let mut t = tx(&mut *c);
    let client = stored(&mut t, "Pruned", "", at("2026-03-01T09:00:00Z")).await;
    let snapshot = serde_json::to_string(&client).expect("json");
    t.next_sequences(Stream::Status, 3).await.expect("seq");
    for (seq, hour) in [(1, 1), (2, 5), (3, 2)] {
        let mut e = event(client.client_id, &snapshot);
        e.recorded_at = at("2026-03-01T00:00:00Z") + Duration::hours(hour);
        t.insert_status_event(seq, &e).await.expect("event");
    }
    // The newest entry recorded before 03:00 is 3: the whole prefix through it goes (2 with it),
    // so a cursor never finds a hole inside what is kept.
    prune_streams(c, at("2026-03-01T03:00:00Z"))
        .await
        .expect("prune");
    let bounds = read::stream_bounds(c, Stream::Status)
        .await
        .expect("bounds");
    assert_eq!((bounds.pruned_through, bounds.last_seq), (3, 3));
    assert!(
        read::status_events(c, 0, &EventFilter::default(), 10)
            .await
            .expect("events")
            .is_empty()
    );
    // Pruning never moves the mark back.
    prune_streams(c, at("2026-02-01T00:00:00Z"))
        .await
        .expect("prune");
    assert_eq!(
        read::stream_bounds(c, Stream::Status)
            .await
            .expect("bounds")
            .pruned_through,
        3
    );
}

pub async fn catalogue_entries_are_written_versioned_and_the_cache_follows<C: Conn>(c: &mut C) {
    let mut t = tx(c);
    let now = at("2026-03-01T10:00:00Z");
    t.lock_catalog().await.expect("lock");
    let before = t.catalog().await.expect("catalog");
    let draft = Draft {
        kind: CatalogKind::Status,
        name: "Hot prospect".into(),
        display_order: None,
        stage: Some(Stage::FollowUp),
        color: None,
        selectable_for_project: None,
        selectable_as_supplier: false,
        ended: None,
        status_ids: Vec::new(),
    };
    let mut created = clientstatus::domain::catalog::create(&before, &draft, now).expect("draft");
    created.entry_id = t.insert_entry(&created).await.expect("insert");
    let after = t.catalog().await.expect("catalog");
    assert_eq!(
        after.entries.len(),
        before.entries.len() + 1,
        "the cache saw the change"
    );
    let read_back = after.status(created.entry_id).expect("the new status");
    assert_eq!(read_back, &created);
    let patch = Patch {
        name: Some("Warm prospect".into()),
        ..Patch::default()
    };
    let next = clientstatus::domain::catalog::update(&after, &created, &patch, now).expect("patch");
    t.update_entry(&next, created.version)
        .await
        .expect("update");
    assert!(matches!(
        t.update_entry(&next, created.version).await,
        Err(StoreError::Conflict(_))
    ));
    let renamed = t.catalog().await.expect("catalog");
    assert_eq!(
        renamed.status(created.entry_id).map(|e| e.name.as_str()),
        Some("Warm prospect")
    );
    t.delete_entry(&next).await.expect("delete");
    assert!(
        t.catalog()
            .await
            .expect("catalog")
            .status(created.entry_id)
            .is_none()
    );
}

pub async fn clients_using_an_entry_are_counted_and_listed<C: Conn>(c: &mut C) {
    let mut t = tx(c);
    let when = at("2026-03-01T10:00:00Z");
    let catalog = t.catalog().await.expect("catalog");
    let new_status = catalog
        .status(catalog.default_status(Stage::New))
        .expect("default")
        .clone();
    let a = stored(&mut t, "User A", "", when).await;
    let b = stored(&mut t, "User B", "", when).await;
    assert_eq!(t.count_clients_using(&new_status).await.expect("count"), 2);
    assert_eq!(
        t.clients_using(&new_status, 1).await.expect("list"),
        [a.client_id]
    );
    assert_eq!(
        t.clients_using(&new_status, 10).await.expect("list"),
        [a.client_id, b.client_id]
    );
    let other = catalog
        .status(catalog.default_status(Stage::Real))
        .expect("real")
        .clone();
    assert_eq!(t.count_clients_using(&other).await.expect("count"), 0);
}

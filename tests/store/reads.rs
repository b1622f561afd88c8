//! The reads: every ListClients filter, the funnel's groupings, activity days, stream filters.
use chrono::{Duration, NaiveDate};
use clientstatus::domain::{AlertKind, Client, LeadStatus, Stage, StatusEvent};
use clientstatus::store::engine::{CatalogTx, NewAlert, NewStatusEvent, StreamTx, WriteTx};
use clientstatus::store::sql::{Conn, read};
use clientstatus::store::{
    ActivityQuery, AlertFilter, ClientFilter, CountFilter, Dimensions, EventFilter, HistoryRecord,
    Page,
};

use crate::fixtures::{at, stored, tx};

/// Moves a stored client to `change`'s state (a new version of it).
async fn change<T: WriteTx>(
    tx: &mut T,
    client: &Client,
    change: impl FnOnce(&mut Client),
) -> Client {
    let mut next = client.clone();
    change(&mut next);
    next.version += 1;
    let body = serde_json::to_string(&next).expect("json");
    tx.update_client(client, &next, &body)
        .await
        .expect("update");
    next
}

fn ids(clients: &[Client]) -> Vec<i64> {
    clients.iter().map(|c| c.client_id).collect()
}

pub async fn list_filters_each_narrow_the_clients<C: Conn>(c: &mut C) {
    let when = at("2026-03-01T10:00:00Z");
    let mut t = tx(&mut *c);
    let catalog = t.catalog().await.expect("catalog");
    let new = stored(&mut t, "New one", "", when).await;
    let hot = stored(&mut t, "Hot one", "", when).await;
    let hot = change(&mut t, &hot, |c| {
        c.lead_status = LeadStatus::Hot;
        c.owner = "eli".into();
        c.next_call_at = Some(when + Duration::hours(2));
    })
    .await;
    let real = stored(&mut t, "Real one", "", when).await;
    let real = change(&mut t, &real, |c| {
        c.stage = Stage::Real;
        c.status_id = catalog.default_status(Stage::Real);
        c.branch = "south".into();
    })
    .await;
    let lost = stored(&mut t, "Not interested", "", when).await;
    let lost = change(&mut t, &lost, |c| {
        c.stage = Stage::NotInterested;
        c.status_id = catalog.default_status(Stage::NotInterested);
    })
    .await;
    let gone = stored(&mut t, "Deleted", "", when).await;
    let gone = change(&mut t, &gone, |c| c.deleted_at = Some(when)).await;
    let all = Page {
        after: None,
        limit: 100,
    };
    let list = |filter: ClientFilter| filter;
    let mut run = async |filter: ClientFilter| {
        ids(&read::list_clients(c, &list(filter), all)
            .await
            .expect("list"))
    };
    // No filter: active clients, ended statuses hidden.
    assert_eq!(
        run(ClientFilter::default()).await,
        vec![new.client_id, hot.client_id, real.client_id]
    );
    let with = |f: fn(&mut ClientFilter)| {
        let mut filter = ClientFilter::default();
        f(&mut filter);
        filter
    };
    assert_eq!(
        run(with(|f| f.include_ended = true)).await,
        vec![new.client_id, hot.client_id, real.client_id, lost.client_id]
    );
    assert_eq!(
        run(with(|f| f.include_deleted = true)).await,
        vec![new.client_id, hot.client_id, real.client_id, gone.client_id]
    );
    assert_eq!(
        run(with(|f| f.stages = vec![Stage::NotInterested])).await,
        vec![lost.client_id],
        "naming a stage shows its ended statuses"
    );
    assert_eq!(
        run(with(|f| f.permanent = Some(true))).await,
        vec![real.client_id]
    );
    assert_eq!(
        run(with(|f| f.permanent = Some(false))).await,
        vec![new.client_id, hot.client_id, lost.client_id]
    );
    assert_eq!(
        run(with(|f| f.owner = Some("eli".into()))).await,
        vec![hot.client_id]
    );
    assert_eq!(
        run(with(|f| f.branch = Some("south".into()))).await,
        vec![real.client_id]
    );
    assert_eq!(
        run(with(|f| f.lead_statuses = vec![LeadStatus::Hot])).await,
        vec![hot.client_id]
    );
    let due = when + Duration::hours(3);
    let filter = ClientFilter {
        next_call_due_before: Some(due),
        ..ClientFilter::default()
    };
    assert_eq!(run(filter).await, vec![hot.client_id]);
    let filter = ClientFilter {
        status_ids: Some(vec![catalog.default_status(Stage::Real)]),
        ..ClientFilter::default()
    };
    assert_eq!(run(filter).await, vec![real.client_id]);
    let filter = ClientFilter {
        status_ids: Some(Vec::new()),
        ..ClientFilter::default()
    };
    assert!(
        run(filter).await.is_empty(),
        "an empty status list matches nothing"
    );
    // Pages continue after the last number returned.
    let page = Page {
        after: Some(new.client_id),
        limit: 1,
    };
    let next = read::list_clients(c, &ClientFilter::default(), page)
        .await
        .expect("list");
    assert_eq!(ids(&next), [hot.client_id]);
    let got = read::get_client(c, real.client_id).await.expect("get");
    assert_eq!((got.stage, got.branch.as_str()), (Stage::Real, "south"));
    assert!(read::get_client(c, 999_999).await.is_err());
}

pub async fn counts_group_by_the_dimensions_asked<C: Conn>(c: &mut C) {
    let when = at("2026-03-01T10:00:00Z");
    let mut t = tx(&mut *c);
    let a = stored(&mut t, "A", "", when).await;
    stored(&mut t, "B", "", when).await;
    change(&mut t, &a, |c| c.owner = "eli".into()).await;
    let by_owner = Dimensions {
        owner: true,
        ..Dimensions::default()
    };
    let rows = read::count_clients(c, &CountFilter::default(), by_owner)
        .await
        .expect("count");
    let got: Vec<(Option<String>, i64)> = rows.iter().map(|r| (r.owner.clone(), r.count)).collect();
    assert_eq!(got, [(Some("dana".into()), 1), (Some("eli".into()), 1)]);
    let by_stage = Dimensions {
        stage: true,
        status: true,
        ..Dimensions::default()
    };
    let rows = read::count_clients(c, &CountFilter::default(), by_stage)
        .await
        .expect("count");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].stage, rows[0].owner.as_deref(), rows[0].count),
        (Some(Stage::New), None, 2)
    );
    let filter = CountFilter {
        owner: Some("eli".into()),
        ..CountFilter::default()
    };
    let total = read::count_clients(c, &filter, Dimensions::default())
        .await
        .expect("count");
    assert_eq!(total.iter().map(|r| r.count).sum::<i64>(), 1);
}

pub async fn activities_are_counted_per_day_at_the_callers_offset<C: Conn>(c: &mut C) {
    let mut t = tx(&mut *c);
    let client = stored(&mut t, "Busy", "", at("2026-03-01T00:00:00Z")).await;
    // 22:30 UTC on 1 March is already 2 March at UTC+2.
    for (version, time) in [
        (2, "2026-03-01T22:30:00Z"),
        (3, "2026-03-01T10:00:00Z"),
        (4, "1969-12-31T23:00:00Z"),
    ] {
        t.insert_history(&HistoryRecord {
            entry_id: 0,
            client_id: client.client_id,
            version,
            cause: "RecordContactAttempt".into(),
            actor: "dana".into(),
            principal: "agent".into(),
            request_id: format!("r{version}"),
            occurred_at: at(time),
            recorded_at: at(time),
            old_stage: Some(Stage::New),
            new_stage: Stage::FollowUp,
            note: String::new(),
            details: Default::default(),
        })
        .await
        .expect("history");
    }
    let query = ActivityQuery {
        from: at("1969-01-01T00:00:00Z"),
        to: at("2026-04-01T00:00:00Z"),
        utc_offset_minutes: 120,
        actor: None,
        causes: vec!["RecordContactAttempt".into()],
    };
    let rows = read::count_activities(c, &query).await.expect("activities");
    let days: Vec<(NaiveDate, i64)> = rows.iter().map(|r| (r.day, r.count)).collect();
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
    assert_eq!(
        days,
        [
            (day(1970, 1, 1), 1),
            (day(2026, 3, 1), 1),
            (day(2026, 3, 2), 1)
        ]
    );
    let other = ActivityQuery {
        actor: Some("eli".into()),
        ..query
    };
    assert!(
        read::count_activities(c, &other)
            .await
            .expect("activities")
            .is_empty()
    );
}

pub async fn stream_reads_filter_and_page_by_sequence<C: Conn>(c: &mut C) {
    let mut t = tx(&mut *c);
    let a = stored(&mut t, "Stream A", "", at("2026-03-01T09:00:00Z")).await;
    let b = stored(&mut t, "Stream B", "", at("2026-03-01T09:00:00Z")).await;
    let snapshot = serde_json::to_string(&a).expect("json");
    t.next_sequences(clientstatus::store::Stream::Status, 3)
        .await
        .expect("seq");
    for (seq, client, stage, cause) in [
        (1, &a, Stage::FollowUp, "RecordContactAttempt"),
        (2, &b, Stage::Real, "RecordInvoice"),
        (3, &a, Stage::Real, "RecordInvoice"),
    ] {
        t.insert_status_event(
            seq,
            &NewStatusEvent {
                client_id: client.client_id,
                kind: StatusEvent::StageChanged,
                cause: cause.into(),
                actor: "dana".into(),
                request_id: format!("r{seq}"),
                old_stage: Stage::New,
                new_stage: stage,
                old_status_id: 1,
                new_status_id: stage.rank() + 1,
                occurred_at: at("2026-03-01T10:00:00Z"),
                recorded_at: at("2026-03-01T10:00:00Z"),
                snapshot: snapshot.clone(),
            },
        )
        .await
        .expect("event");
    }
    t.next_sequences(clientstatus::store::Stream::Alerts, 2)
        .await
        .expect("seq");
    for (seq, kind) in [(1, AlertKind::BecameReal), (2, AlertKind::NextCallDue)] {
        t.insert_alert(
            seq,
            &NewAlert {
                kind,
                client_id: b.client_id,
                occurrence_key: format!("k{seq}"),
                due_at: at("2026-03-01T10:00:00Z"),
                raised_at: at("2026-03-01T10:00:00Z"),
                snapshot: snapshot.clone(),
            },
        )
        .await
        .expect("alert");
    }
    let seqs = |events: Vec<clientstatus::store::StatusEventRecord>| {
        events.iter().map(|e| e.seq).collect::<Vec<_>>()
    };
    let by_stage = EventFilter {
        new_stages: vec![Stage::Real],
        ..EventFilter::default()
    };
    assert_eq!(
        seqs(
            read::status_events(c, 0, &by_stage, 10)
                .await
                .expect("events")
        ),
        [2, 3]
    );
    let by_cause = EventFilter {
        causes: vec!["RecordContactAttempt".into()],
        ..EventFilter::default()
    };
    assert_eq!(
        seqs(
            read::status_events(c, 0, &by_cause, 10)
                .await
                .expect("events")
        ),
        [1]
    );
    let by_client = EventFilter {
        client_ids: vec![a.client_id],
        ..EventFilter::default()
    };
    assert_eq!(
        seqs(
            read::status_events(c, 1, &by_client, 10)
                .await
                .expect("events")
        ),
        [3]
    );
    assert_eq!(
        seqs(
            read::status_events(c, 0, &EventFilter::default(), 2)
                .await
                .expect("events")
        ),
        [1, 2]
    );
    let kinds = AlertFilter {
        kinds: vec![AlertKind::NextCallDue],
        ..AlertFilter::default()
    };
    let alerts = read::alerts(c, 0, &kinds, 10).await.expect("alerts");
    assert_eq!(alerts.iter().map(|a| a.seq).collect::<Vec<_>>(), [2]);
    let history_page = Page {
        after: None,
        limit: 1,
    };
    assert!(
        read::history(c, a.client_id, history_page)
            .await
            .expect("history")
            .is_empty()
    );
}

//! MergeClients: every rule one by one, through the public API.
use clientstatus::proto::*;
use tonic::Code;

use crate::card::{all_alerts, all_events, info, merge, named, update};
use crate::helpers::*;

async fn meeting(app: &mut TestApp, client_id: i64, at: &str) {
    app.api
        .summarize_meeting(SummarizeMeetingRequest {
            request_id: rid(),
            occurred_at: Some(ts(at)),
            client_ids: vec![client_id],
            note: format!("meeting at {at}"),
            ..Default::default()
        })
        .await
        .expect("meeting");
}

async fn call_at(app: &mut TestApp, client_id: i64, at: &str, actor_note: &str) -> Client {
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id,
            occurred_at: Some(ts(at)),
            outcome: CallOutcome::CallWithContent as i32,
            note: actor_note.into(),
            ..Default::default()
        })
        .await
        .expect("call")
        .into_inner()
        .client
        .expect("client")
}

#[tokio::test]
async fn the_stage_is_the_highest_and_the_status_follows() {
    let mut app = spawn_app().await;
    let survivor = app.create("Survivor").await;
    let real = app.create("Real duplicate").await;
    app.invoice(real.client_id, "INV-1").await;
    app.call(survivor.client_id, CallOutcome::NoAnswer).await;
    let got = merge(&mut app, survivor.client_id, &[real.client_id])
        .await
        .expect("merge");
    let s = got.survivor.expect("survivor");
    assert_eq!(stage(&s), ClientStage::Real);
    assert_eq!(
        s.status_id,
        default_status(ClientStage::Real),
        "the stage's default status"
    );

    // The survivor's own status stays when the stage is its own.
    let key = app.add_status(ClientStage::Real, "Key account").await;
    let a = app.create("A").await;
    app.invoice(a.client_id, "INV-2").await;
    app.set_client_status(a.client_id, key.status_id).await;
    let b = app.create("B").await;
    app.invoice(b.client_id, "INV-3").await;
    let got = merge(&mut app, a.client_id, &[b.client_id])
        .await
        .expect("merge");
    assert_eq!(got.survivor.expect("survivor").status_id, key.status_id);
}

#[tokio::test]
async fn first_stamps_are_the_earliest_and_last_stamps_the_latest_with_out_of_order_dates() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    // Recorded out of order: the merged client's events are both older and newer.
    meeting(&mut app, s.client_id, "2026-03-10T10:00:00Z").await;
    meeting(&mut app, m.client_id, "2026-03-12T10:00:00Z").await;
    meeting(&mut app, m.client_id, "2026-03-01T10:00:00Z").await;
    call_at(
        &mut app,
        s.client_id,
        "2026-03-11T10:00:00Z",
        "survivor's call",
    )
    .await;
    call_at(&mut app, m.client_id, "2026-03-05T10:00:00Z", "old call").await;
    let latest = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: m.client_id,
            occurred_at: Some(ts("2026-03-13T10:00:00Z")),
            outcome: CallOutcome::LeftMessage as i32,
            ..Default::default()
        })
        .await
        .expect("call");
    drop(latest);
    let got = merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let s = got.survivor.expect("survivor");
    assert_eq!(s.first_meeting_at, Some(ts("2026-03-01T10:00:00Z")));
    assert_eq!(s.last_meeting_at, Some(ts("2026-03-12T10:00:00Z")));
    assert_eq!(s.last_call_at, Some(ts("2026-03-13T10:00:00Z")));
    assert_eq!(
        CallOutcome::try_from(s.last_call_outcome),
        Ok(CallOutcome::LeftMessage),
        "the outcome of the latest call of any"
    );
    assert_eq!(s.last_contact_at, Some(ts("2026-03-13T10:00:00Z")));
    let summary = s.recent_events_summary;
    assert!(
        summary.contains("survivor's call") && summary.contains("old call"),
        "{summary}"
    );
    assert!(summary.chars().count() <= 1_000);
    let first_line = summary.lines().next().expect("a line");
    assert!(
        first_line.starts_with("2026-03-13"),
        "newest first: {summary}"
    );
}

#[tokio::test]
async fn documents_move_so_a_resent_invoice_on_the_merged_number_is_recognised() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    app.invoice(m.client_id, "INV-7").await;
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let again = app.invoice(m.client_id, "INV-7").await;
    assert!(again.already_recorded, "the bridge has not re-keyed yet");
    assert_eq!(again.client.expect("client").client_id, s.client_id);
    assert!(app.invoice(s.client_id, "INV-7").await.already_recorded);
    let err = app
        .api
        .record_invoice(RecordInvoiceRequest {
            request_id: rid(),
            client_id: m.client_id,
            document_type: AccountingDocumentType::Invoice as i32,
            document_number: "INV-8".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_MERGED");
    assert_eq!(info(&err, "merged_into_client_id"), s.client_id.to_string());
}

#[tokio::test]
async fn get_client_on_a_merged_number_answers_with_the_survivor() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let got = app
        .api
        .get_client(GetClientRequest {
            client_id: m.client_id,
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.client.expect("client").client_id, s.client_id);
    assert_eq!(got.requested_client_id, m.client_id);
    let direct = app
        .api
        .get_client(GetClientRequest {
            client_id: s.client_id,
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(direct.requested_client_id, 0);
}

#[tokio::test]
async fn a_merged_event_names_the_survivor_for_each_merged_client() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let a = app.create("A").await;
    let b = app.create("B").await;
    let got = merge(&mut app, s.client_id, &[a.client_id, b.client_id])
        .await
        .expect("merge");
    assert_eq!(got.merged.len(), 2);
    let merged: Vec<(i64, i64)> = all_events(&mut app)
        .await
        .into_iter()
        .filter(|e| e.kind == StatusEventKind::Merged as i32)
        .map(|e| (e.client_id, e.merged_into_client_id))
        .collect();
    assert_eq!(
        merged,
        vec![(a.client_id, s.client_id), (b.client_id, s.client_id)]
    );
}

#[tokio::test]
async fn merged_clients_leave_lists_unless_asked_and_take_no_further_events() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let list = |include_merged, include_deleted| ListClientsRequest {
        include_merged,
        include_deleted,
        ..Default::default()
    };
    let ids = |r: ListClientsResponse| r.clients.iter().map(|c| c.client_id).collect::<Vec<_>>();
    let plain = app
        .api
        .list_clients(list(false, false))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(ids(plain), vec![s.client_id]);
    let deleted = app
        .api
        .list_clients(list(false, true))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(ids(deleted), vec![s.client_id], "merged is not deleted");
    let all = app
        .api
        .list_clients(list(true, false))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(ids(all), vec![s.client_id, m.client_id]);
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: m.client_id,
            outcome: CallOutcome::NoAnswer as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_MERGED");
    let values = Client {
        branch: "x".into(),
        ..Default::default()
    };
    let err = update(&mut app, m.client_id, &["branch"], values)
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_MERGED");
}

#[tokio::test]
async fn history_stays_with_each_client_and_the_survivor_can_include_the_merged() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    app.call(m.client_id, CallOutcome::NoAnswer).await;
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let own = app.history(m.client_id).await;
    assert_eq!(
        own.iter().map(|e| e.cause.as_str()).collect::<Vec<_>>(),
        ["CreateClient", "RecordContactAttempt", "MergeClients"]
    );
    assert!(own.iter().all(|e| e.client_id == m.client_id));
    let survivor_only = app.history(s.client_id).await;
    assert!(survivor_only.iter().all(|e| e.client_id == s.client_id));
    let with_merged = app
        .api
        .get_client_history(GetClientHistoryRequest {
            client_id: s.client_id,
            include_merged: true,
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner();
    assert_eq!(with_merged.entries.len(), 2, "paged");
    let mut entries = with_merged.entries;
    let mut token = with_merged.next_page_token;
    while !token.is_empty() {
        let page = app
            .api
            .get_client_history(GetClientHistoryRequest {
                client_id: s.client_id,
                include_merged: true,
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("page")
            .into_inner();
        entries.extend(page.entries);
        token = page.next_page_token;
    }
    assert_eq!(entries.len(), own.len() + survivor_only.len());
    assert!(
        entries
            .iter()
            .any(|e| e.client_id == m.client_id && e.cause == "RecordContactAttempt")
    );
}

#[tokio::test]
async fn details_the_survivor_lacks_and_lead_keys_move_to_it() {
    let mut app = spawn_app().await;
    let s = app
        .create_with(CreateClientRequest {
            name: named("Levi"),
            email: "levi@example.com".into(),
            ..Default::default()
        })
        .await;
    let m = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Levy".into(),
                first_name: "Dana".into(),
                ..Default::default()
            }),
            email: "dana@example.com".into(),
            phone: "050-9999999".into(),
            custom_properties: [("size".to_string(), "M".to_string())].into(),
            ..Default::default()
        })
        .await;
    let got = merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let survivor = got.survivor.expect("survivor");
    assert_eq!(survivor.email, "levi@example.com", "its own detail stays");
    assert_eq!(survivor.phone, "050-9999999");
    assert_eq!(survivor.name.expect("name").first_name, "Dana");
    assert_eq!(survivor.custom_properties["size"], "M");
    // A lead with the merged client's email finds the survivor.
    let lead = app
        .api
        .create_client(CreateClientRequest {
            request_id: rid(),
            name: named("Levy"),
            email: "dana@example.com".into(),
            ..Default::default()
        })
        .await
        .expect("lead")
        .into_inner();
    assert!(!lead.created);
    assert_eq!(lead.client.expect("client").client_id, s.client_id);
}

#[tokio::test]
async fn children_and_trading_accounts_move_to_the_survivor() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    let child = app
        .create_with(CreateClientRequest {
            name: named("Child"),
            parent_client_id: m.client_id,
            ..Default::default()
        })
        .await;
    app.api
        .open_trading_account(OpenTradingAccountRequest {
            request_id: rid(),
            client_id: m.client_id,
            trading_account_id: "MT-5".into(),
            ..Default::default()
        })
        .await
        .expect("account");
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let survivor = app.get(s.client_id).await;
    assert_eq!(survivor.child_client_ids, vec![child.client_id]);
    assert_eq!(survivor.trading_account_ids, vec!["MT-5".to_string()]);
    let moved = app.get(child.client_id).await;
    assert_eq!(moved.parent_client_id, s.client_id);
    assert_eq!(
        app.history(child.client_id)
            .await
            .last()
            .expect("entry")
            .cause,
        "MergeClients"
    );
}

#[tokio::test]
async fn timers_are_recomputed_for_the_survivor_and_dropped_for_the_merged() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    use clientstatus::clock::Clock;
    let due = app.clock.now() + chrono::Duration::hours(1);
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: m.client_id,
            outcome: CallOutcome::LeftMessage as i32,
            next_call_at: Some(prost_types::Timestamp {
                seconds: due.timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect("call");
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    app.clock.advance(chrono::Duration::hours(2));
    let due: Vec<i64> = all_alerts(&mut app)
        .await
        .iter()
        .filter(|a| a.kind == AlertKind::NextCallDue as i32)
        .map(|a| a.client_id)
        .collect();
    assert_eq!(
        due,
        vec![s.client_id],
        "the survivor took the next call; the merged one has none"
    );
}

#[tokio::test]
async fn merges_that_cannot_be_are_refused_and_change_nothing() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    let err = merge(&mut app, s.client_id, &[s.client_id])
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "MERGE_INTO_ITSELF");
    let err = merge(&mut app, s.client_id, &[m.client_id, m.client_id])
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["merged_client_ids[1]"]);
    let many: Vec<i64> = (1..=101).collect();
    let err = merge(&mut app, s.client_id, &many).await.unwrap_err();
    assert_eq!(bad_fields(&err), vec!["merged_client_ids"]);
    let err = merge(&mut app, s.client_id, &[]).await.unwrap_err();
    assert_eq!(bad_fields(&err), vec!["merged_client_ids"]);
    let err = merge(&mut app, s.client_id, &[999_999]).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let deleted = app.create("Deleted").await;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: deleted.client_id,
            note: "n".into(),
            fictitious_reason: "f".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
    let err = merge(&mut app, deleted.client_id, &[m.client_id])
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_DELETED");
    assert_eq!(app.get(s.client_id).await, s);
    assert_eq!(app.get(m.client_id).await, m, "nothing changed");
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    let other = app.create("Other").await;
    let err = merge(&mut app, m.client_id, &[other.client_id])
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_MERGED");
    let err = merge(&mut app, other.client_id, &[m.client_id])
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_MERGED");
}

#[tokio::test]
async fn a_retried_merge_gets_the_first_answer_and_expected_version_is_the_survivors() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = app.create("Duplicate").await;
    let req = MergeClientsRequest {
        request_id: rid(),
        survivor_client_id: s.client_id,
        merged_client_ids: vec![m.client_id],
        expected_version: Some(s.version + 1),
        ..Default::default()
    };
    let err = app.api.merge_clients(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let req = MergeClientsRequest {
        request_id: rid(),
        expected_version: Some(s.version),
        ..req
    };
    let first = app
        .api
        .merge_clients(req.clone())
        .await
        .expect("merge")
        .into_inner();
    let again = app
        .api
        .merge_clients(req)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again);
    let merged_events = all_events(&mut app)
        .await
        .iter()
        .filter(|e| e.kind == StatusEventKind::Merged as i32)
        .count();
    assert_eq!(merged_events, 1);
}

#[tokio::test]
async fn a_survivor_merged_later_takes_the_clients_merged_into_it() {
    let mut app = spawn_app().await;
    let a = app.create("A").await;
    let b = app.create("B").await;
    let c = app.create("C").await;
    merge(&mut app, b.client_id, &[a.client_id])
        .await
        .expect("a into b");
    merge(&mut app, c.client_id, &[b.client_id])
        .await
        .expect("b into c");
    let got = app
        .api
        .get_client(GetClientRequest {
            client_id: a.client_id,
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.client.expect("client").client_id, c.client_id);
}

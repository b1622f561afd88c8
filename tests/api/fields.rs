//! The field rules (docs/behaviour.md), through the real server.
use clientstatus::proto::*;
use tonic::Code;

use crate::helpers::*;

fn call_at(
    client_id: i64,
    at: &str,
    outcome: CallOutcome,
    next: Option<&str>,
) -> RecordContactAttemptRequest {
    RecordContactAttemptRequest {
        request_id: rid(),
        client_id,
        occurred_at: Some(ts(at)),
        outcome: outcome as i32,
        note: format!("call at {at}"),
        next_call_at: next.map(ts),
        ..Default::default()
    }
}

#[tokio::test]
async fn first_stamps_never_move_later_and_last_stamps_never_move_earlier() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    for at in [
        "2026-05-10T10:00:00Z",
        "2026-05-20T10:00:00Z",
        "2026-05-01T10:00:00Z",
    ] {
        app.api
            .summarize_meeting(SummarizeMeetingRequest {
                request_id: rid(),
                client_ids: vec![c.client_id],
                occurred_at: Some(ts(at)),
                note: "m".into(),
                ..Default::default()
            })
            .await
            .expect("meeting");
    }
    let c = app.get(c.client_id).await;
    assert_eq!(c.first_meeting_at, Some(ts("2026-05-01T10:00:00Z")));
    assert_eq!(c.last_meeting_at, Some(ts("2026-05-20T10:00:00Z")));
    assert_eq!(c.last_contact_at, Some(ts("2026-05-20T10:00:00Z")));
}

#[tokio::test]
async fn a_replayed_older_call_does_not_overwrite_the_newer_call() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.api
        .record_contact_attempt(call_at(
            c.client_id,
            "2026-05-10T10:00:00Z",
            CallOutcome::CallWithContent,
            Some("2026-05-17T10:00:00Z"),
        ))
        .await
        .expect("new call");
    let c = app
        .api
        .record_contact_attempt(call_at(
            c.client_id,
            "2026-05-09T10:00:00Z",
            CallOutcome::NoAnswer,
            None,
        ))
        .await
        .expect("late call")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(c.last_call_at, Some(ts("2026-05-10T10:00:00Z")));
    assert_eq!(c.last_call_outcome, CallOutcome::CallWithContent as i32);
    assert_eq!(
        c.next_call_at,
        Some(ts("2026-05-17T10:00:00Z")),
        "an older attempt does not clear a newer plan"
    );
    let lines: Vec<&str> = c.recent_events_summary.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].contains("2026-05-10T10:00:00Z") && lines[1].contains("2026-05-09T10:00:00Z"),
        "newest first by time: {lines:?}"
    );
}

#[tokio::test]
async fn next_call_is_copied_from_an_attempt_and_cleared_by_one_without() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let with = app
        .api
        .record_contact_attempt(call_at(
            c.client_id,
            "2026-05-10T10:00:00Z",
            CallOutcome::LeftMessage,
            Some("2026-05-11T09:00:00Z"),
        ))
        .await
        .expect("call")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(with.next_call_at, Some(ts("2026-05-11T09:00:00Z")));
    assert_eq!(with.next_call_by, "local", "defaults to the caller");
    let without = app
        .api
        .record_contact_attempt(call_at(
            c.client_id,
            "2026-05-11T09:05:00Z",
            CallOutcome::CallWithContent,
            None,
        ))
        .await
        .expect("call")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(without.next_call_at, None);
    assert_eq!(without.next_call_by, "");
}

#[tokio::test]
async fn a_next_call_in_the_past_of_the_attempt_is_refused() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let err = app
        .api
        .record_contact_attempt(call_at(
            c.client_id,
            "2026-05-10T10:00:00Z",
            CallOutcome::LeftMessage,
            Some("2026-05-10T09:00:00Z"),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["next_call_at".to_string()]);
    assert_eq!(app.get(c.client_id).await, c);
}

#[tokio::test]
async fn last_call_outcome_is_no_call_yet_until_the_first_attempt() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.api
        .record_message_sent(RecordMessageSentRequest {
            request_id: rid(),
            client_id: c.client_id,
            channel: MessageChannel::Sms as i32,
            ..Default::default()
        })
        .await
        .expect("sms");
    assert_eq!(
        app.get(c.client_id).await.last_call_outcome,
        CallOutcome::NoCallYet as i32
    );
    let after = app.call(c.client_id, CallOutcome::ShortCall).await;
    assert_eq!(after.last_call_outcome, CallOutcome::ShortCall as i32);
}

#[tokio::test]
async fn summary_keeps_at_most_1000_characters_newest_first_dropping_whole_entries() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let note = "שיחה עם הלקוח על הצעת המחיר ".repeat(3); // Hebrew: 2 bytes per letter
    let mut last = None;
    for i in 0..30 {
        let at = format!("2026-05-{:02}T10:00:00Z", i + 1);
        let mut req = call_at(c.client_id, &at, CallOutcome::CallWithContent, None);
        req.note = format!("{i:02} {note}");
        last = app
            .api
            .record_contact_attempt(req)
            .await
            .expect("call")
            .into_inner()
            .client;
    }
    let summary = last.expect("client").recent_events_summary;
    assert!(
        summary.chars().count() <= 1000,
        "{} characters",
        summary.chars().count()
    );
    assert!(
        summary.len() > 1000,
        "the limit counts characters, not bytes"
    );
    let lines: Vec<&str> = summary.lines().collect();
    assert!(
        lines[0].starts_with("2026-05-30 10:00 | local | Call | 29 "),
        "{}",
        lines[0]
    );
    for (i, line) in lines.iter().enumerate() {
        let n = 29 - i;
        assert!(
            line.ends_with(note.trim_end()),
            "entry {n} kept whole: {line}"
        );
        assert!(line.contains(&format!("| {n:02} ")), "{line}");
    }
}

#[tokio::test]
async fn one_entry_longer_than_the_limit_is_cut_with_an_ellipsis() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let mut req = call_at(
        c.client_id,
        "2026-05-01T10:00:00Z",
        CallOutcome::CallWithContent,
        None,
    );
    req.note = "א".repeat(1500);
    let c = app
        .api
        .record_contact_attempt(req)
        .await
        .expect("call")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(c.recent_events_summary.chars().count(), 1000);
    assert!(c.recent_events_summary.ends_with('…'));
}

#[tokio::test]
async fn a_lead_resent_with_the_same_external_id_email_or_phone_returns_the_existing_client() {
    let mut app = spawn_app().await;
    let original = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Cohen".into(),
                ..Default::default()
            }),
            email: "Dana.Cohen@Example.com".into(),
            phone: "+972 (54) 123-4567".into(),
            external_lead_id: "LEAD-1".into(),
            ..Default::default()
        })
        .await;
    let resends = [
        CreateClientRequest {
            external_lead_id: "LEAD-1".into(),
            ..Default::default()
        },
        CreateClientRequest {
            email: "  dana.cohen@example.COM".into(),
            ..Default::default()
        },
        CreateClientRequest {
            phone: "00972541234567".into(),
            ..Default::default()
        },
    ];
    for (i, mut resend) in resends.into_iter().enumerate() {
        resend.request_id = rid();
        resend.name = Some(ClientName {
            last_name: "Cohen again".into(),
            ..Default::default()
        });
        let resp = app
            .api
            .create_client(resend)
            .await
            .expect("resend")
            .into_inner();
        assert!(!resp.created, "resend {i}");
        let c = resp.client.expect("client");
        assert_eq!(c.client_id, original.client_id);
        assert_eq!(c.lead_status, LeadStatus::InterestedAgain as i32);
        assert_eq!(
            c.name, original.name,
            "the existing client is returned as it is"
        );
    }
    let all = app
        .api
        .list_clients(ListClientsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .clients;
    assert_eq!(all.len(), 1, "no new client was made");
    let history = app.history(original.client_id).await;
    assert_eq!(history.len(), 4);
    let matched: Vec<&str> = history[1..]
        .iter()
        .map(|h| h.details["matched_on"].as_str())
        .collect();
    assert_eq!(matched, vec!["external_lead_id", "email", "phone"]);
}

#[tokio::test]
async fn a_business_document_recorded_twice_changes_nothing_the_second_time() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let first = app.invoice(c.client_id, "INV-9").await;
    assert!(!first.already_recorded);
    let second = app.invoice(c.client_id, "INV-9").await;
    assert!(second.already_recorded);
    assert_eq!(second.client, first.client, "nothing changed");
    assert_eq!(app.history(c.client_id).await.len(), 2);
    // the same number on another kind of document is another document
    let receipt = app
        .api
        .record_invoice(RecordInvoiceRequest {
            request_id: rid(),
            client_id: c.client_id,
            document_type: AccountingDocumentType::Receipt as i32,
            document_number: "INV-9".into(),
            ..Default::default()
        })
        .await
        .expect("receipt")
        .into_inner();
    assert!(!receipt.already_recorded);
    for (quote, order, account, service) in [("Q", "O", "MT", "S")] {
        let q = || IssueQuoteRequest {
            request_id: rid(),
            client_id: c.client_id,
            quote_id: quote.into(),
            ..Default::default()
        };
        assert!(
            !app.api
                .issue_quote(q())
                .await
                .expect("q")
                .into_inner()
                .already_recorded
        );
        assert!(
            app.api
                .issue_quote(q())
                .await
                .expect("q")
                .into_inner()
                .already_recorded
        );
        let o = || ApproveOrderRequest {
            request_id: rid(),
            client_id: c.client_id,
            order_id: order.into(),
            ..Default::default()
        };
        assert!(
            !app.api
                .approve_order(o())
                .await
                .expect("o")
                .into_inner()
                .already_recorded
        );
        assert!(
            app.api
                .approve_order(o())
                .await
                .expect("o")
                .into_inner()
                .already_recorded
        );
        let a = || OpenTradingAccountRequest {
            request_id: rid(),
            client_id: c.client_id,
            trading_account_id: account.into(),
            ..Default::default()
        };
        assert!(
            !app.api
                .open_trading_account(a())
                .await
                .expect("a")
                .into_inner()
                .already_recorded
        );
        let again = app
            .api
            .open_trading_account(a())
            .await
            .expect("a")
            .into_inner();
        assert!(again.already_recorded);
        assert_eq!(
            again.client.expect("client").trading_account_ids,
            vec!["MT".to_string()]
        );
        let s = || RecordPaidServiceRequest {
            request_id: rid(),
            client_id: c.client_id,
            service_id: service.into(),
            ..Default::default()
        };
        assert!(
            !app.api
                .record_paid_service(s())
                .await
                .expect("s")
                .into_inner()
                .already_recorded
        );
        assert!(
            app.api
                .record_paid_service(s())
                .await
                .expect("s")
                .into_inner()
                .already_recorded
        );
    }
}

#[tokio::test]
async fn a_document_of_another_client_is_refused() {
    let mut app = spawn_app().await;
    let a = app.create("A").await;
    let b = app.create("B").await;
    app.invoice(a.client_id, "INV-1").await;
    let err = app
        .api
        .record_invoice(RecordInvoiceRequest {
            request_id: rid(),
            client_id: b.client_id,
            document_type: AccountingDocumentType::Invoice as i32,
            document_number: "INV-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::AlreadyExists, "DOCUMENT_OWNED_BY_OTHER_CLIENT");
    assert_eq!(app.get(b.client_id).await, b);
}

#[tokio::test]
async fn client_numbers_increase_and_are_never_reused() {
    let mut app = spawn_app().await;
    let mut last = 0;
    for i in 0..5 {
        let c = app.create(&format!("C{i}")).await;
        assert!(c.client_id > last);
        last = c.client_id;
    }
    let mut app = app.restart().await;
    let c = app.create("after restart").await;
    assert!(c.client_id > last);
}

#[tokio::test]
async fn expected_version_mismatch_is_aborted_and_changes_nothing() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let mut req = call_at(
        c.client_id,
        "2026-05-01T10:00:00Z",
        CallOutcome::NoAnswer,
        None,
    );
    req.expected_version = Some(c.version + 1);
    let err = app
        .api
        .record_contact_attempt(req.clone())
        .await
        .unwrap_err();
    assert_error(&err, Code::Aborted, "VERSION_MISMATCH");
    assert_eq!(app.get(c.client_id).await, c);
    req.expected_version = Some(c.version);
    req.request_id = rid();
    let after = app
        .api
        .record_contact_attempt(req)
        .await
        .expect("matching version")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(after.version, c.version + 1);
}

#[tokio::test]
async fn children_are_listed_on_the_parent() {
    let mut app = spawn_app().await;
    let parent = app.create("Holding").await;
    let mut kids = Vec::new();
    for name in ["Sub A", "Sub B"] {
        let kid = app
            .create_with(CreateClientRequest {
                name: Some(ClientName {
                    last_name: name.into(),
                    ..Default::default()
                }),
                parent_client_id: parent.client_id,
                ..Default::default()
            })
            .await;
        assert_eq!(kid.parent_client_id, parent.client_id);
        kids.push(kid.client_id);
    }
    assert_eq!(app.get(parent.client_id).await.child_client_ids, kids);
    let err = app
        .api
        .create_client(CreateClientRequest {
            request_id: rid(),
            name: Some(ClientName {
                last_name: "Orphan".into(),
                ..Default::default()
            }),
            parent_client_id: 424_242,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["parent_client_id".to_string()]);
}

#[tokio::test]
async fn every_accepted_call_appends_one_history_entry_with_its_cause_and_actor() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.call(c.client_id, CallOutcome::NoAnswer).await;
    app.invoice(c.client_id, "I-1").await;
    app.api
        .record_invoice(RecordInvoiceRequest {
            request_id: rid(),
            client_id: c.client_id,
            actor: "bookkeeper-7".into(),
            document_type: AccountingDocumentType::Invoice as i32,
            document_number: "I-2".into(),
            ..Default::default()
        })
        .await
        .expect("invoice");
    let history = app.history(c.client_id).await;
    let causes: Vec<&str> = history.iter().map(|h| h.cause.as_str()).collect();
    assert_eq!(
        causes,
        vec![
            "CreateClient",
            "RecordContactAttempt",
            "RecordInvoice",
            "RecordInvoice"
        ]
    );
    let versions: Vec<i64> = history.iter().map(|h| h.version).collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    assert_eq!(history[1].old_stage, ClientStage::New as i32);
    assert_eq!(history[1].new_stage, ClientStage::FollowUp as i32);
    assert_eq!(history[2].new_stage, ClientStage::Real as i32);
    assert_eq!(history[2].details["document_id"], "I-1");
    assert_eq!(history[3].actor, "bookkeeper-7");
}

#[tokio::test]
async fn a_lead_matching_only_a_deleted_client_makes_a_new_client() {
    let mut app = spawn_app().await;
    let old = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Bot".into(),
                ..Default::default()
            }),
            email: "bot@x.io".into(),
            ..Default::default()
        })
        .await;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: old.client_id,
            note: "n".into(),
            fictitious_reason: "bot".into(),
            ..Default::default()
        })
        .await
        .expect("delete");
    let resp = app
        .api
        .create_client(CreateClientRequest {
            request_id: rid(),
            name: Some(ClientName {
                last_name: "Real person".into(),
                ..Default::default()
            }),
            email: "bot@x.io".into(),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    assert!(resp.created);
    assert_ne!(resp.client.expect("client").client_id, old.client_id);
}

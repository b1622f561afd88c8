//! What each event does (docs/behaviour.md): one test per row of the table.
use clientstatus::proto::*;

use crate::helpers::*;

#[tokio::test]
async fn create_client_starts_new_with_lead_details_and_no_call_yet() {
    let mut app = spawn_app().await;
    let type_a = app
        .add_classification(ClassificationKind::CustomerType, "A")
        .await;
    let retail = app
        .add_classification(ClassificationKind::Industry, "Retail")
        .await;
    let small = app
        .add_classification(ClassificationKind::HeadcountClass, "1-10")
        .await;
    let req = CreateClientRequest {
        request_id: rid(),
        occurred_at: Some(ts("2026-05-01T08:00:00Z")),
        actor: "portal-user".into(),
        name: Some(ClientName {
            last_name: "Cohen".into(),
            first_name: "Dana".into(),
            middle_name: "D".into(),
        }),
        branch: "Tel Aviv".into(),
        owner: "avi".into(),
        email: "dana@example.com".into(),
        phone: "+972-54-1234567".into(),
        external_lead_id: "L-100".into(),
        lead_status: LeadStatus::Hot as i32,
        record_source: "MT5-Live".into(),
        custom_properties: [("campaign".to_string(), "spring".to_string())].into(),
        classifications: Some(Classifications {
            customer_type_id: type_a,
            industry_id: retail,
            headcount_class_id: small,
        }),
        ..Default::default()
    };
    let resp = app
        .api
        .create_client(req)
        .await
        .expect("create")
        .into_inner();
    assert!(resp.created);
    let c = resp.client.expect("client");
    assert!(c.client_id > 0);
    assert_eq!(stage(&c), ClientStage::New);
    assert!(!c.permanent);
    assert_eq!(c.created_at, Some(ts("2026-05-01T08:00:00Z")));
    assert_eq!(c.created_by, "portal-user");
    assert_eq!(c.record_source, "MT5-Live");
    assert_eq!(c.lead_status, LeadStatus::Hot as i32);
    assert_eq!(c.last_call_outcome, CallOutcome::NoCallYet as i32);
    assert_eq!(c.version, 1);
    assert_eq!(
        c.custom_properties.get("campaign").map(String::as_str),
        Some("spring")
    );
    assert_eq!(
        c.classifications,
        Some(Classifications {
            customer_type_id: type_a,
            industry_id: retail,
            headcount_class_id: small,
        })
    );
    assert_eq!(c.status_id, default_status(ClientStage::New));
    assert_eq!(
        app.get(c.client_id).await,
        c,
        "what was answered is what is stored"
    );
    let history = app.history(c.client_id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].cause, "CreateClient");
    assert_eq!(history[0].new_stage, ClientStage::New as i32);
}

#[tokio::test]
async fn lead_status_defaults_to_regular() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    assert_eq!(c.lead_status, LeadStatus::Regular as i32);
}

#[tokio::test]
async fn contact_attempt_makes_follow_up_and_stamps_the_call_fields() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    for outcome in [
        CallOutcome::NoAnswer,
        CallOutcome::LeftMessage,
        CallOutcome::ShortCall,
        CallOutcome::CallWithContent,
    ] {
        let c = app.create(&format!("{outcome:?}")).await;
        let after = app.call(c.client_id, outcome).await;
        assert_eq!(stage(&after), ClientStage::FollowUp, "{outcome:?}");
        assert_eq!(after.last_call_outcome, outcome as i32);
    }
    let resp = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            occurred_at: Some(ts("2026-05-02T10:00:00Z")),
            outcome: CallOutcome::CallWithContent as i32,
            note: "wants a demo".into(),
            next_call_at: Some(ts("2026-05-09T10:00:00Z")),
            next_call_by: "rina".into(),
            ..Default::default()
        })
        .await
        .expect("call")
        .into_inner();
    let c = resp.client.expect("client");
    assert_eq!(c.last_call_at, Some(ts("2026-05-02T10:00:00Z")));
    assert_eq!(c.last_call_by, "local");
    assert_eq!(c.last_contact_at, Some(ts("2026-05-02T10:00:00Z")));
    assert_eq!(c.next_call_at, Some(ts("2026-05-09T10:00:00Z")));
    assert_eq!(c.next_call_by, "rina");
    assert!(
        c.recent_events_summary
            .starts_with("2026-05-02 10:00 | local | Call | wants a demo"),
        "{}",
        c.recent_events_summary
    );
}

#[tokio::test]
async fn email_makes_follow_up_without_a_summary_line() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let c = app
        .api
        .record_message_sent(RecordMessageSentRequest {
            request_id: rid(),
            client_id: c.client_id,
            channel: MessageChannel::Email as i32,
            note: "brochure".into(),
            ..Default::default()
        })
        .await
        .expect("email")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::FollowUp);
    assert_eq!(c.recent_events_summary, "");
    assert!(c.last_contact_at.is_some());
}

#[tokio::test]
async fn sms_makes_follow_up_and_adds_a_summary_line() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let c = app
        .api
        .record_message_sent(RecordMessageSentRequest {
            request_id: rid(),
            client_id: c.client_id,
            channel: MessageChannel::Sms as i32,
            note: "שלום, נדבר מחר".into(),
            ..Default::default()
        })
        .await
        .expect("sms")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::FollowUp);
    assert!(c.recent_events_summary.contains("| SMS | שלום, נדבר מחר"));
    assert!(c.last_contact_at.is_some());
}

#[tokio::test]
async fn schedule_meeting_makes_follow_up_and_stamps_nothing() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let c = app
        .api
        .schedule_meeting(ScheduleMeetingRequest {
            request_id: rid(),
            client_id: c.client_id,
            meeting_at: Some(ts("2030-01-01T09:00:00Z")),
            ..Default::default()
        })
        .await
        .expect("schedule")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::FollowUp);
    assert_eq!(c.last_contact_at, None);
    assert_eq!(c.first_meeting_at, None);
    assert_eq!(c.recent_events_summary, "");
}

#[tokio::test]
async fn summarize_meeting_for_several_clients_stamps_each() {
    let mut app = spawn_app().await;
    let a = app.create("A").await;
    let b = app.create("B").await;
    let clients = app
        .api
        .summarize_meeting(SummarizeMeetingRequest {
            request_id: rid(),
            client_ids: vec![a.client_id, b.client_id],
            occurred_at: Some(ts("2026-05-03T12:00:00Z")),
            note: "signed intent".into(),
            ..Default::default()
        })
        .await
        .expect("summarize")
        .into_inner()
        .clients;
    assert_eq!(clients.len(), 2);
    for c in clients {
        assert_eq!(stage(&c), ClientStage::FollowUpMeetingOrQuote);
        assert_eq!(c.first_meeting_at, Some(ts("2026-05-03T12:00:00Z")));
        assert_eq!(c.last_meeting_at, Some(ts("2026-05-03T12:00:00Z")));
        assert_eq!(c.last_contact_at, Some(ts("2026-05-03T12:00:00Z")));
        assert!(
            c.recent_events_summary
                .contains("Meeting summary | signed intent")
        );
        assert_eq!(
            app.history(c.client_id).await.len(),
            2,
            "one history entry per client"
        );
    }
}

#[tokio::test]
async fn summarize_meeting_naming_an_unknown_client_changes_none() {
    let mut app = spawn_app().await;
    let a = app.create("A").await;
    let err = app
        .api
        .summarize_meeting(SummarizeMeetingRequest {
            request_id: rid(),
            client_ids: vec![a.client_id, 999_999],
            note: "n".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, tonic::Code::NotFound, "CLIENT_NOT_FOUND");
    assert_eq!(app.get(a.client_id).await, a);
}

#[tokio::test]
async fn issue_quote_makes_follow_up_meeting_or_quote_and_stamps_first_quote_once() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let quote = |id: &str, at: &str| IssueQuoteRequest {
        request_id: rid(),
        client_id: c.client_id,
        quote_id: id.into(),
        occurred_at: Some(ts(at)),
        ..Default::default()
    };
    app.api
        .issue_quote(quote("Q-1", "2026-05-04T09:00:00Z"))
        .await
        .expect("q1");
    let c = app
        .api
        .issue_quote(quote("Q-2", "2026-05-06T09:00:00Z"))
        .await
        .expect("q2")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::FollowUpMeetingOrQuote);
    assert_eq!(c.first_quote_at, Some(ts("2026-05-04T09:00:00Z")));
}

#[tokio::test]
async fn approve_order_makes_a_prospect_real() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let c = app
        .api
        .approve_order(ApproveOrderRequest {
            request_id: rid(),
            client_id: c.client_id,
            order_id: "O-1".into(),
            occurred_at: Some(ts("2026-05-05T09:00:00Z")),
            ..Default::default()
        })
        .await
        .expect("order")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::Real);
    assert!(c.permanent);
    assert_eq!(c.became_real_at, Some(ts("2026-05-05T09:00:00Z")));
}

#[tokio::test]
async fn first_invoice_makes_a_prospect_real() {
    let mut app = spawn_app().await;
    for kind in [
        AccountingDocumentType::Invoice,
        AccountingDocumentType::Receipt,
        AccountingDocumentType::InvoiceReceipt,
    ] {
        let c = app.create("Levi").await;
        let c = app
            .api
            .record_invoice(RecordInvoiceRequest {
                request_id: rid(),
                client_id: c.client_id,
                document_type: kind as i32,
                document_number: "100".into(),
                ..Default::default()
            })
            .await
            .expect("invoice")
            .into_inner()
            .client
            .expect("client");
        assert_eq!(stage(&c), ClientStage::Real, "{kind:?}");
        assert!(c.became_real_at.is_some());
    }
}

#[tokio::test]
async fn extra_properties_change_no_stage_when_the_setting_is_off() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let c = app
        .api
        .record_extra_properties(RecordExtraPropertiesRequest {
            request_id: rid(),
            client_id: c.client_id,
            properties: [("vat".to_string(), "123".to_string())].into(),
            ..Default::default()
        })
        .await
        .expect("props")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::New);
    assert_eq!(c.became_real_at, None);
    assert_eq!(
        c.custom_properties.get("vat").map(String::as_str),
        Some("123")
    );
}

#[tokio::test]
async fn extra_properties_make_real_when_the_setting_is_on() {
    let mut app = spawn_with(|c| c.extra_properties_mean_deal = true).await;
    let c = app.create("Levi").await;
    let c = app
        .api
        .record_extra_properties(RecordExtraPropertiesRequest {
            request_id: rid(),
            client_id: c.client_id,
            occurred_at: Some(ts("2026-05-07T09:00:00Z")),
            properties: [("vat".to_string(), "123".to_string())].into(),
            ..Default::default()
        })
        .await
        .expect("props")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::Real);
    assert_eq!(c.became_real_at, Some(ts("2026-05-07T09:00:00Z")));
}

#[tokio::test]
async fn trading_account_makes_real_and_is_listed_on_the_client() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let open = |id: &str| OpenTradingAccountRequest {
        request_id: rid(),
        client_id: c.client_id,
        trading_account_id: id.into(),
        ..Default::default()
    };
    app.api
        .open_trading_account(open("MT-1"))
        .await
        .expect("mt1");
    let c = app
        .api
        .open_trading_account(open("MT-2"))
        .await
        .expect("mt2")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::Real);
    assert_eq!(
        c.trading_account_ids,
        vec!["MT-1".to_string(), "MT-2".to_string()]
    );
    assert!(c.became_real_at.is_some());
}

#[tokio::test]
async fn paid_service_makes_real_club_also_from_not_interested() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.api
        .declare_not_interested(DeclareNotInterestedRequest {
            request_id: rid(),
            client_id: c.client_id,
            note: "too expensive".into(),
            reason_status_id: default_status(ClientStage::NotInterested),
            ..Default::default()
        })
        .await
        .expect("not interested");
    let c = app
        .api
        .record_paid_service(RecordPaidServiceRequest {
            request_id: rid(),
            client_id: c.client_id,
            service_id: "SUB-7".into(),
            ..Default::default()
        })
        .await
        .expect("paid")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::RealClubOrContract);
    assert!(c.became_real_at.is_some());
}

#[tokio::test]
async fn not_interested_stays_on_a_call_but_a_first_invoice_makes_it_real() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.set_stage(c.client_id, ClientStage::NotInterested).await;
    let after_call = app.call(c.client_id, CallOutcome::NoAnswer).await;
    assert_eq!(stage(&after_call), ClientStage::NotInterested);
    let after_invoice = app
        .invoice(c.client_id, "INV-1")
        .await
        .client
        .expect("client");
    assert_eq!(stage(&after_invoice), ClientStage::Real);
}

#[tokio::test]
async fn frozen_stays_frozen_whatever_arrives() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.set_stage(c.client_id, ClientStage::Frozen).await;
    app.call(c.client_id, CallOutcome::CallWithContent).await;
    app.invoice(c.client_id, "INV-1").await;
    let c = app
        .api
        .record_paid_service(RecordPaidServiceRequest {
            request_id: rid(),
            client_id: c.client_id,
            service_id: "S".into(),
            ..Default::default()
        })
        .await
        .expect("paid")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::Frozen);
}

#[tokio::test]
async fn automatic_advances_never_move_a_stage_backwards() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.invoice(c.client_id, "INV-1").await;
    let after = app.call(c.client_id, CallOutcome::CallWithContent).await;
    assert_eq!(stage(&after), ClientStage::Real);
    let after = app
        .api
        .issue_quote(IssueQuoteRequest {
            request_id: rid(),
            client_id: c.client_id,
            quote_id: "Q".into(),
            ..Default::default()
        })
        .await
        .expect("quote")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&after), ClientStage::Real);
}

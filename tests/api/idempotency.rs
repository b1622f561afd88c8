//! AIP-155 request ids: a retry returns the first answer and applies nothing twice.
use clientstatus::proto::*;

use crate::helpers::*;

#[tokio::test]
async fn a_retried_create_returns_the_first_answer_and_makes_one_client() {
    let mut app = spawn_app().await;
    let req = CreateClientRequest {
        request_id: "create-once".into(),
        name: Some(ClientName {
            last_name: "Levi".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let first = app
        .api
        .create_client(req.clone())
        .await
        .expect("first")
        .into_inner();
    let retry = app
        .api
        .create_client(req)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry);
    let all = app
        .api
        .list_clients(ListClientsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .clients;
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_retried_call_is_applied_once_and_answers_as_the_first_time() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let req = RecordContactAttemptRequest {
        request_id: "call-1".into(),
        client_id: c.client_id,
        outcome: CallOutcome::NoAnswer as i32,
        note: "first try".into(),
        ..Default::default()
    };
    let first = app
        .api
        .record_contact_attempt(req.clone())
        .await
        .expect("first")
        .into_inner();
    // the client moves on in between; the retry still gets the first answer
    app.call(c.client_id, CallOutcome::CallWithContent).await;
    let retry = app
        .api
        .record_contact_attempt(req)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry);
    let history = app.history(c.client_id).await;
    assert_eq!(
        history.iter().filter(|h| h.request_id == "call-1").count(),
        1
    );
    assert_eq!(app.get(c.client_id).await.version, 3);
}

#[tokio::test]
async fn a_retry_after_a_restart_still_applies_once() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let req = RecordInvoiceRequest {
        request_id: "inv-retry".into(),
        client_id: c.client_id,
        document_type: AccountingDocumentType::Invoice as i32,
        document_number: "1".into(),
        ..Default::default()
    };
    let first = app
        .api
        .record_invoice(req.clone())
        .await
        .expect("first")
        .into_inner();
    let mut app = app.restart().await;
    let retry = app
        .api
        .record_invoice(req)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry);
    assert!(
        !retry.already_recorded,
        "the first answer, not a second application"
    );
}

#[tokio::test]
async fn the_same_request_id_with_a_different_request_is_refused() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let req = RecordContactAttemptRequest {
        request_id: "dup".into(),
        client_id: c.client_id,
        outcome: CallOutcome::NoAnswer as i32,
        ..Default::default()
    };
    app.api
        .record_contact_attempt(req.clone())
        .await
        .expect("first");
    let before = app.get(c.client_id).await;
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            outcome: CallOutcome::ShortCall as i32,
            ..req
        })
        .await
        .unwrap_err();
    assert_error(&err, tonic::Code::InvalidArgument, "REQUEST_ID_REUSED");
    assert_eq!(bad_fields(&err), vec!["request_id".to_string()]);
    assert_eq!(app.get(c.client_id).await, before);
    // and across methods
    let err = app
        .api
        .record_message_sent(RecordMessageSentRequest {
            request_id: "dup".into(),
            client_id: c.client_id,
            channel: MessageChannel::Sms as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, tonic::Code::InvalidArgument, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn a_refused_request_can_be_retried_once_the_cause_is_fixed() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let req = DeclareFrozenRequest {
        request_id: "freeze".into(),
        client_id: c.client_id,
        frozen_message: "m".into(),
        note: "n".into(),
        ..Default::default()
    };
    let err = app.api.declare_frozen(req.clone()).await.unwrap_err();
    assert_eq!(precondition(&err), "FROZEN_ONLY_FROM_REAL");
    app.invoice(c.client_id, "I").await;
    let ok = app
        .api
        .declare_frozen(req)
        .await
        .expect("now allowed")
        .into_inner();
    assert_eq!(stage(&ok.client.expect("client")), ClientStage::Frozen);
}

#[tokio::test]
async fn concurrent_retries_of_one_request_apply_it_once() {
    let app = spawn_app().await;
    let mut api = app.api.clone();
    let c = api
        .create_client(CreateClientRequest {
            request_id: rid(),
            name: Some(ClientName {
                last_name: "L".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .client
        .expect("client");
    let req = RecordContactAttemptRequest {
        request_id: "burst".into(),
        client_id: c.client_id,
        outcome: CallOutcome::NoAnswer as i32,
        ..Default::default()
    };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut api = app.api.clone();
        let req = req.clone();
        tasks.push(tokio::spawn(async move {
            api.record_contact_attempt(req)
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("task").expect("answer"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let after = api
        .get_client(GetClientRequest {
            client_id: c.client_id,
        })
        .await
        .expect("get")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(after.version, 2);
}

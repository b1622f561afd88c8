//! The declarations and overrides (docs/behaviour.md): one test per row, preconditions included.
use clientstatus::proto::*;
use tonic::Code;

use crate::helpers::*;

const ALL_STAGES: [ClientStage; 7] = [
    ClientStage::New,
    ClientStage::FollowUp,
    ClientStage::FollowUpMeetingOrQuote,
    ClientStage::NotInterested,
    ClientStage::Real,
    ClientStage::RealClubOrContract,
    ClientStage::Frozen,
];

fn not_interested(client_id: i64) -> DeclareNotInterestedRequest {
    DeclareNotInterestedRequest {
        request_id: rid(),
        client_id,
        note: "spoke with the owner; no budget this year".into(),
        reason_status_id: default_status(ClientStage::NotInterested),
        ..Default::default()
    }
}

fn frozen(client_id: i64) -> DeclareFrozenRequest {
    DeclareFrozenRequest {
        request_id: rid(),
        client_id,
        frozen_message: "Legal dispute: talk to Rina first".into(),
        note: "stopped paying".into(),
        reason_status_id: default_status(ClientStage::Frozen),
        ..Default::default()
    }
}

fn fictitious(client_id: i64) -> DeclareFictitiousRequest {
    DeclareFictitiousRequest {
        request_id: rid(),
        client_id,
        note: "number does not exist".into(),
        fictitious_reason: "bot lead".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn declare_not_interested_is_allowed_below_real_and_refused_from_real_up() {
    let mut app = spawn_app().await;
    for s in ALL_STAGES {
        let c = app.create("Levi").await;
        let c = app.set_stage(c.client_id, s).await;
        let result = app
            .api
            .declare_not_interested(not_interested(c.client_id))
            .await;
        if s < ClientStage::Real {
            let after = result
                .expect("allowed")
                .into_inner()
                .client
                .expect("client");
            assert_eq!(stage(&after), ClientStage::NotInterested, "{s:?}");
            assert_eq!(after.not_interested_reason, "Not interested");
            assert!(
                after.recent_events_summary.contains("no budget this year"),
                "note recorded as a contact entry"
            );
        } else {
            let err = result.unwrap_err();
            assert_eq!(
                precondition(&err),
                "NOT_INTERESTED_ONLY_BELOW_REAL",
                "{s:?}"
            );
            assert_eq!(
                app.get(c.client_id).await,
                c,
                "a refused declaration changes nothing"
            );
        }
    }
}

#[tokio::test]
async fn declare_not_interested_requires_a_note_and_a_reason() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let err = app
        .api
        .declare_not_interested(DeclareNotInterestedRequest {
            note: " ".into(),
            reason_status_id: 0,
            ..not_interested(c.client_id)
        })
        .await
        .unwrap_err();
    let fields = bad_fields(&err);
    assert!(
        fields.contains(&"note".to_string()) && fields.contains(&"reason_status_id".to_string()),
        "{fields:?}"
    );
    assert_eq!(app.get(c.client_id).await, c);
}

#[tokio::test]
async fn declare_frozen_only_from_real_or_real_club() {
    let mut app = spawn_app().await;
    for s in ALL_STAGES {
        let c = app.create("Levi").await;
        let c = app.set_stage(c.client_id, s).await;
        let result = app.api.declare_frozen(frozen(c.client_id)).await;
        if matches!(s, ClientStage::Real | ClientStage::RealClubOrContract) {
            let after = result
                .expect("allowed")
                .into_inner()
                .client
                .expect("client");
            assert_eq!(stage(&after), ClientStage::Frozen, "{s:?}");
            assert_eq!(after.frozen_message, "Legal dispute: talk to Rina first");
            assert_eq!(after.frozen_reason, "Frozen");
        } else {
            assert_eq!(
                precondition(&result.unwrap_err()),
                "FROZEN_ONLY_FROM_REAL",
                "{s:?}"
            );
            assert_eq!(app.get(c.client_id).await, c);
        }
    }
}

#[tokio::test]
async fn declare_frozen_requires_a_popup_message_and_a_note() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.invoice(c.client_id, "I").await;
    let err = app
        .api
        .declare_frozen(DeclareFrozenRequest {
            frozen_message: String::new(),
            note: String::new(),
            ..frozen(c.client_id)
        })
        .await
        .unwrap_err();
    let fields = bad_fields(&err);
    assert!(
        fields.contains(&"frozen_message".to_string()) && fields.contains(&"note".to_string()),
        "{fields:?}"
    );
}

#[tokio::test]
async fn declare_fictitious_only_from_new_and_soft_deletes() {
    let mut app = spawn_app().await;
    for s in ALL_STAGES.into_iter().skip(1) {
        let c = app.create("Levi").await;
        let c = app.set_stage(c.client_id, s).await;
        let err = app
            .api
            .declare_fictitious(fictitious(c.client_id))
            .await
            .unwrap_err();
        assert_eq!(precondition(&err), "FICTITIOUS_ONLY_FROM_NEW", "{s:?}");
    }
    let c = app.create("Bot").await;
    let deleted = app
        .api
        .declare_fictitious(fictitious(c.client_id))
        .await
        .expect("fictitious")
        .into_inner()
        .client
        .expect("client");
    assert!(deleted.deleted_at.is_some());
    assert_eq!(deleted.deleted_by, "local");
    assert_eq!(deleted.fictitious_reason, "bot lead");
    assert_eq!(stage(&deleted), ClientStage::New);
    // kept in full, out of lists unless asked
    assert_eq!(app.get(c.client_id).await.name, c.name);
    let listed = app
        .api
        .list_clients(ListClientsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .clients;
    assert!(listed.iter().all(|x| x.client_id != c.client_id));
    let listed = app
        .api
        .list_clients(ListClientsRequest {
            include_deleted: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .clients;
    assert!(listed.iter().any(|x| x.client_id == c.client_id));
    // a deleted client takes no events until restored
    let err = app
        .api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: c.client_id,
            outcome: CallOutcome::NoAnswer as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&err), "CLIENT_DELETED");
}

#[tokio::test]
async fn declare_fictitious_requires_a_note_and_a_why() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    let err = app
        .api
        .declare_fictitious(DeclareFictitiousRequest {
            note: String::new(),
            fictitious_reason: String::new(),
            ..fictitious(c.client_id)
        })
        .await
        .unwrap_err();
    let fields = bad_fields(&err);
    assert!(
        fields.contains(&"note".to_string()) && fields.contains(&"fictitious_reason".to_string())
    );
}

#[tokio::test]
async fn restore_client_brings_back_a_deleted_client_with_the_stage_it_had() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.api
        .declare_fictitious(fictitious(c.client_id))
        .await
        .expect("fictitious");
    let restored = app
        .api
        .restore_client(RestoreClientRequest {
            request_id: rid(),
            client_id: c.client_id,
            ..Default::default()
        })
        .await
        .expect("restore")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(restored.deleted_at, None);
    assert_eq!(stage(&restored), ClientStage::New);
    let listed = app
        .api
        .list_clients(ListClientsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .clients;
    assert!(listed.iter().any(|x| x.client_id == c.client_id));
    let again = app
        .api
        .restore_client(RestoreClientRequest {
            request_id: rid(),
            client_id: c.client_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&again), "CLIENT_NOT_DELETED");
}

#[tokio::test]
async fn set_status_moves_to_any_stage_and_is_always_in_history() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    app.invoice(c.client_id, "I").await;
    for s in ALL_STAGES.into_iter().rev() {
        let after = app.set_stage(c.client_id, s).await;
        assert_eq!(stage(&after), s);
    }
    let history = app.history(c.client_id).await;
    let overrides: Vec<&HistoryEntry> = history.iter().filter(|h| h.cause == "SetStatus").collect();
    assert_eq!(overrides.len(), 7);
    assert!(overrides.iter().all(|h| h.note == "test setup"));
    let err = app
        .api
        .set_status(SetStatusRequest {
            request_id: rid(),
            client_id: c.client_id,
            stage: ClientStage::Real as i32,
            reason: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["reason".to_string()]);
}

#[tokio::test]
async fn reassign_resets_many_clients_to_new_and_stamps_allocation() {
    let mut app = spawn_app().await;
    let a = app.create("A").await;
    let b = app.create("B").await;
    app.call(a.client_id, CallOutcome::CallWithContent).await;
    app.invoice(b.client_id, "I").await;
    let clients = app
        .api
        .reassign(ReassignRequest {
            request_id: rid(),
            client_ids: vec![a.client_id, b.client_id],
            new_owner: "yossi".into(),
            occurred_at: Some(ts("2026-06-01T07:00:00Z")),
            ..Default::default()
        })
        .await
        .expect("reassign")
        .into_inner()
        .clients;
    assert_eq!(clients.len(), 2);
    for c in &clients {
        assert_eq!(c.owner, "yossi");
        assert_eq!(stage(c), ClientStage::New);
        assert_eq!(c.last_allocated_at, Some(ts("2026-06-01T07:00:00Z")));
    }
}

#[tokio::test]
async fn reassign_keeps_the_stage_when_reset_stage_is_false() {
    let mut app = spawn_app().await;
    let c = app.create("A").await;
    app.call(c.client_id, CallOutcome::CallWithContent).await;
    let clients = app
        .api
        .reassign(ReassignRequest {
            request_id: rid(),
            client_ids: vec![c.client_id],
            new_owner: "yossi".into(),
            reset_stage: Some(false),
            ..Default::default()
        })
        .await
        .expect("reassign")
        .into_inner()
        .clients;
    assert_eq!(stage(&clients[0]), ClientStage::FollowUp);
    assert_eq!(clients[0].owner, "yossi");
    assert!(clients[0].last_allocated_at.is_some());
}

#[tokio::test]
async fn only_explicit_human_actions_move_a_stage_down() {
    let mut app = spawn_app().await;
    let c = app.create("A").await;
    app.invoice(c.client_id, "I").await;
    let down = app.set_stage(c.client_id, ClientStage::FollowUp).await;
    assert_eq!(stage(&down), ClientStage::FollowUp);
    let err = app
        .api
        .declare_fictitious(fictitious(c.client_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

//! The status catalogue, groups, classifications, and what clients
//! do with them, over gRPC against the real server.
use clientstatus::proto::*;
use tonic::Code;
use tonic_types::StatusExt;

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

async fn statuses(app: &mut TestApp, stages: &[ClientStage]) -> Vec<CatalogStatus> {
    app.catalog
        .list_statuses(ListStatusesRequest {
            stages: stages.iter().map(|s| *s as i32).collect(),
            ..Default::default()
        })
        .await
        .expect("list statuses")
        .into_inner()
        .statuses
}

async fn list(app: &mut TestApp, req: ListClientsRequest) -> Vec<i64> {
    app.api
        .list_clients(ListClientsRequest {
            page_size: 1000,
            ..req
        })
        .await
        .expect("list")
        .into_inner()
        .clients
        .iter()
        .map(|c| c.client_id)
        .collect()
}

async fn add_group(app: &mut TestApp, name: &str, status_ids: Vec<i64>) -> StatusGroup {
    app.catalog
        .create_status_group(CreateStatusGroupRequest {
            request_id: rid(),
            name: name.into(),
            status_ids,
            ..Default::default()
        })
        .await
        .expect("create group")
        .into_inner()
        .status_group
        .expect("group")
}

fn in_use_count(err: &tonic::Status) -> String {
    err.get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get("in_use_count").cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_stage_starts_with_one_default_status_and_ended_ones_are_not_interested_and_frozen() {
    let mut app = spawn_app().await;
    let all = statuses(&mut app, &[]).await;
    assert_eq!(all.len(), 7);
    for (status, stage) in all.iter().zip(ALL_STAGES) {
        assert_eq!(status.stage, stage as i32);
        assert_eq!(status.status_id, default_status(stage));
        assert!(status.is_default);
        assert!(status.selectable_for_project);
        assert_eq!(
            status.ended,
            matches!(stage, ClientStage::NotInterested | ClientStage::Frozen),
            "{stage:?}"
        );
        assert!(status.color.starts_with('#') && status.color.len() == 7);
    }
}

#[tokio::test]
async fn statuses_are_added_coloured_and_ordered_under_their_stage() {
    let mut app = spawn_app().await;
    let partner = app
        .add_status_with(CreateStatusRequest {
            stage: ClientStage::Real as i32,
            name: "Partner".into(),
            color: "#00ff7f".into(),
            display_order: Some(30),
            selectable_as_supplier: true,
            ..Default::default()
        })
        .await;
    assert_eq!(partner.color, "#00FF7F", "colours are kept upper case");
    assert!(partner.selectable_as_supplier && partner.selectable_for_project);
    assert!(!partner.ended && !partner.is_default);
    let key = app
        .add_status_with(CreateStatusRequest {
            stage: ClientStage::Real as i32,
            name: "Key account".into(),
            display_order: Some(20),
            ..Default::default()
        })
        .await;
    let last = app.add_status(ClientStage::Real, "Reseller").await;
    assert_eq!(last.display_order, 31, "after the last one unless placed");
    let real = statuses(&mut app, &[ClientStage::Real]).await;
    let names: Vec<&str> = real.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Real", "Key account", "Partner", "Reseller"]);

    // Reordering and recolouring are updates; what is not named stays.
    let moved = app
        .catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: key.status_id,
            display_order: Some(40),
            color: Some("#0000ff".into()),
            expected_version: Some(1),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .status
        .expect("status");
    assert_eq!((moved.display_order, moved.color.as_str()), (40, "#0000FF"));
    assert_eq!((moved.name.as_str(), moved.version), ("Key account", 2));
    let real = statuses(&mut app, &[ClientStage::Real]).await;
    assert_eq!(real.last().map(|s| s.status_id), Some(key.status_id));

    // The same name under the same stage is refused, under another stage it is not.
    let err = app
        .catalog
        .create_status(CreateStatusRequest {
            request_id: rid(),
            stage: ClientStage::Real as i32,
            name: "PARTNER".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::AlreadyExists, "CATALOG_NAME_TAKEN");
    app.add_status(ClientStage::Frozen, "Partner").await;
    // An expected_version that is not the status's version changes nothing.
    let err = app
        .catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: key.status_id,
            name: Some("Renamed".into()),
            expected_version: Some(1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::Aborted, "VERSION_MISMATCH");
    let real = statuses(&mut app, &[ClientStage::Real]).await;
    assert!(real.iter().any(|s| s.name == "Key account"));
}

#[tokio::test]
async fn bad_catalogue_input_is_refused_field_by_field() {
    let mut app = spawn_app().await;
    let err = app
        .catalog
        .create_status(CreateStatusRequest {
            request_id: rid(),
            stage: 0,
            name: " ".into(),
            color: "blue".into(),
            display_order: Some(-1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = bad_fields(&err);
    fields.sort();
    assert_eq!(fields, ["color", "display_order", "name", "stage"]);
    let err = app
        .catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: 999,
            name: Some("x".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::NotFound, "STATUS_NOT_FOUND");
    let err = app
        .catalog
        .create_status_group(CreateStatusGroupRequest {
            request_id: rid(),
            name: "G".into(),
            status_ids: vec![1, 999],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["status_ids[1]"]);
    let err = app
        .catalog
        .create_classification(CreateClassificationRequest {
            request_id: rid(),
            kind: 0,
            name: "A".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["kind"]);
    assert_eq!(statuses(&mut app, &[]).await.len(), 7, "nothing was added");
}

#[tokio::test]
async fn a_catalogue_change_retried_with_its_request_id_applies_once() {
    let mut app = spawn_app().await;
    let req = CreateStatusRequest {
        request_id: rid(),
        stage: ClientStage::NotInterested as i32,
        name: "Price".into(),
        ..Default::default()
    };
    let first = app.catalog.create_status(req.clone()).await.expect("first");
    let again = app.catalog.create_status(req.clone()).await.expect("retry");
    assert_eq!(first.into_inner(), again.into_inner());
    assert_eq!(
        statuses(&mut app, &[ClientStage::NotInterested])
            .await
            .len(),
        2
    );
    let err = app
        .catalog
        .create_status(CreateStatusRequest {
            name: "Competitor".into(),
            ..req
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::InvalidArgument, "REQUEST_ID_REUSED");
}

#[tokio::test]
async fn automatic_advances_put_the_target_stages_default_status_which_can_be_moved() {
    let mut app = spawn_app().await;
    let c = app.create("Levi").await;
    assert_eq!(c.status_id, default_status(ClientStage::New));
    let c = app.call(c.client_id, CallOutcome::NoAnswer).await;
    assert_eq!(c.status_id, default_status(ClientStage::FollowUp));

    let key = app.add_status(ClientStage::Real, "Key account").await;
    let made_default = app
        .catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: key.status_id,
            make_default: true,
            ..Default::default()
        })
        .await
        .expect("make default")
        .into_inner()
        .status
        .expect("status");
    assert!(made_default.is_default);
    let real = statuses(&mut app, &[ClientStage::Real]).await;
    assert_eq!(
        real.iter().filter(|s| s.is_default).count(),
        1,
        "one default per stage"
    );
    let c = app
        .invoice(c.client_id, "INV-1")
        .await
        .client
        .expect("client");
    assert_eq!(stage(&c), ClientStage::Real);
    assert_eq!(c.status_id, key.status_id);

    // The former default is an ordinary status now: deletable once nobody holds it.
    app.catalog
        .delete_status(DeleteStatusRequest {
            request_id: rid(),
            status_id: default_status(ClientStage::Real),
            ..Default::default()
        })
        .await
        .expect("old default deleted");
    // The default itself cannot be deleted.
    let err = app
        .catalog
        .delete_status(DeleteStatusRequest {
            request_id: rid(),
            status_id: key.status_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "STATUS_IS_STAGE_DEFAULT");
}

#[tokio::test]
async fn declarations_take_their_reasons_from_the_catalogue() {
    let mut app = spawn_app().await;
    let price = app.add_status(ClientStage::NotInterested, "Price").await;
    let c = app.create("Levi").await;
    let err = app
        .api
        .declare_not_interested(DeclareNotInterestedRequest {
            request_id: rid(),
            client_id: c.client_id,
            note: "too expensive".into(),
            reason_status_id: default_status(ClientStage::Frozen),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["reason_status_id"]);
    assert_eq!(app.get(c.client_id).await, c, "nothing changed");
    let after = app
        .api
        .declare_not_interested(DeclareNotInterestedRequest {
            request_id: rid(),
            client_id: c.client_id,
            note: "too expensive".into(),
            reason_status_id: price.status_id,
            ..Default::default()
        })
        .await
        .expect("declared")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(stage(&after), ClientStage::NotInterested);
    assert_eq!(after.status_id, price.status_id);
    assert_eq!(after.not_interested_reason, "Price");

    let moved = app.add_status(ClientStage::Frozen, "Moved abroad").await;
    let c = app.create("Cohen").await;
    app.invoice(c.client_id, "INV-2").await;
    let frozen = app
        .api
        .declare_frozen(DeclareFrozenRequest {
            request_id: rid(),
            client_id: c.client_id,
            frozen_message: "Moved to Lisbon".into(),
            note: "relationship ended".into(),
            reason_status_id: moved.status_id,
            ..Default::default()
        })
        .await
        .expect("frozen")
        .into_inner()
        .client
        .expect("client");
    assert_eq!(frozen.status_id, moved.status_id);
    assert_eq!(frozen.frozen_reason, "Moved abroad");
}

#[tokio::test]
async fn a_status_not_selectable_for_project_refuses_quotes_and_orders() {
    let mut app = spawn_app().await;
    let prospect = app
        .add_status_with(CreateStatusRequest {
            stage: ClientStage::FollowUp as i32,
            name: "Prospect: change to customer first".into(),
            selectable_for_project: Some(false),
            ..Default::default()
        })
        .await;
    let c = app.create("Levi").await;
    let c = app.set_client_status(c.client_id, prospect.status_id).await;
    assert_eq!(
        stage(&c),
        ClientStage::FollowUp,
        "the status's stage follows"
    );
    let err = app
        .api
        .issue_quote(IssueQuoteRequest {
            request_id: rid(),
            client_id: c.client_id,
            quote_id: "Q-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&err), "STATUS_NOT_SELECTABLE_FOR_PROJECT");
    let err = app
        .api
        .approve_order(ApproveOrderRequest {
            request_id: rid(),
            client_id: c.client_id,
            order_id: "O-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&err), "STATUS_NOT_SELECTABLE_FOR_PROJECT");
    assert_eq!(app.get(c.client_id).await, c, "refusals change nothing");
    assert_eq!(app.history(c.client_id).await.len(), 2);

    // Other events are not projects: a call goes through and keeps the status.
    let called = app.call(c.client_id, CallOutcome::ShortCall).await;
    assert_eq!(called.status_id, prospect.status_id);
    // Once the organisation allows it, the quote goes through.
    app.catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: prospect.status_id,
            selectable_for_project: Some(true),
            ..Default::default()
        })
        .await
        .expect("update");
    app.api
        .issue_quote(IssueQuoteRequest {
            request_id: rid(),
            client_id: c.client_id,
            quote_id: "Q-1".into(),
            ..Default::default()
        })
        .await
        .expect("quote");
}

#[tokio::test]
async fn ended_statuses_are_left_out_of_lists_unless_asked_for_or_named() {
    let mut app = spawn_app().await;
    let active = app.create("Active").await.client_id;
    let not_interested = app.create("NotInterested").await.client_id;
    app.api
        .declare_not_interested(DeclareNotInterestedRequest {
            request_id: rid(),
            client_id: not_interested,
            note: "n".into(),
            reason_status_id: default_status(ClientStage::NotInterested),
            ..Default::default()
        })
        .await
        .expect("declared");
    let lost = app
        .add_status_with(CreateStatusRequest {
            stage: ClientStage::FollowUp as i32,
            name: "Lost contact".into(),
            ended: Some(true),
            ..Default::default()
        })
        .await;
    let lost_client = app.create("Lost").await.client_id;
    app.set_client_status(lost_client, lost.status_id).await;

    assert_eq!(list(&mut app, Default::default()).await, [active]);
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                stages: vec![ClientStage::NotInterested as i32],
                ..Default::default()
            }
        )
        .await,
        [not_interested],
        "a stage filter names its statuses, ended ones too"
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                kind: ClientKind::Prospect as i32,
                ..Default::default()
            }
        )
        .await,
        [active, not_interested, lost_client],
        "so does prospect/permanent"
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                lead_statuses: vec![LeadStatus::Regular as i32],
                ..Default::default()
            }
        )
        .await,
        [active],
        "other filters do not name statuses: ended ones stay hidden"
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                include_ended: true,
                ..Default::default()
            }
        )
        .await,
        [active, not_interested, lost_client]
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                status_ids: vec![lost.status_id],
                ..Default::default()
            }
        )
        .await,
        [lost_client],
        "naming an ended status lists its clients"
    );
    let ended = add_group(
        &mut app,
        "Ended",
        vec![lost.status_id, default_status(ClientStage::NotInterested)],
    )
    .await;
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                status_group_ids: vec![ended.status_group_id],
                ..Default::default()
            }
        )
        .await,
        [not_interested, lost_client],
        "naming a group names its statuses"
    );

    // `ended` is read when searching: turning it off brings the clients back at once.
    app.catalog
        .update_status(UpdateStatusRequest {
            request_id: rid(),
            status_id: lost.status_id,
            ended: Some(false),
            ..Default::default()
        })
        .await
        .expect("update");
    assert_eq!(
        list(&mut app, Default::default()).await,
        [active, lost_client]
    );
}

#[tokio::test]
async fn groups_bundle_statuses_for_searching_and_are_deleted_only_when_empty() {
    let mut app = spawn_app().await;
    let partner = app.add_status(ClientStage::Real, "Partner").await;
    let key = app.add_status(ClientStage::Real, "Key account").await;
    let a = app.create("A").await.client_id;
    let b = app.create("B").await.client_id;
    let c = app.create("C").await.client_id;
    app.set_client_status(a, partner.status_id).await;
    app.set_client_status(b, key.status_id).await;
    let group = add_group(&mut app, "Mailing list", vec![partner.status_id]).await;
    let by_group = |group_id: i64| ListClientsRequest {
        status_group_ids: vec![group_id],
        ..Default::default()
    };
    assert_eq!(list(&mut app, by_group(group.status_group_id)).await, [a]);

    // "Liitä": attach another status to the group.
    let group = app
        .catalog
        .update_status_group(UpdateStatusGroupRequest {
            request_id: rid(),
            status_group_id: group.status_group_id,
            status_ids: Some(StatusIds {
                ids: vec![partner.status_id, key.status_id],
            }),
            ..Default::default()
        })
        .await
        .expect("attach")
        .into_inner()
        .status_group
        .expect("group");
    assert_eq!(
        list(&mut app, by_group(group.status_group_id)).await,
        [a, b]
    );
    // With a status filter as well, both must hold.
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                status_ids: vec![key.status_id, default_status(ClientStage::New)],
                status_group_ids: vec![group.status_group_id],
                ..Default::default()
            }
        )
        .await,
        [b]
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                status_ids: vec![default_status(ClientStage::New)],
                ..Default::default()
            }
        )
        .await,
        [c]
    );
    let groups = app
        .catalog
        .list_status_groups(ListStatusGroupsRequest {})
        .await
        .expect("groups")
        .into_inner()
        .status_groups;
    assert_eq!(groups, std::slice::from_ref(&group));

    let err = app
        .catalog
        .delete_status_group(DeleteStatusGroupRequest {
            request_id: rid(),
            status_group_id: group.status_group_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "STATUS_GROUP_NOT_EMPTY");
    assert_eq!(in_use_count(&err), "2");
    app.catalog
        .update_status_group(UpdateStatusGroupRequest {
            request_id: rid(),
            status_group_id: group.status_group_id,
            status_ids: Some(StatusIds { ids: vec![] }),
            ..Default::default()
        })
        .await
        .expect("empty it");
    app.catalog
        .delete_status_group(DeleteStatusGroupRequest {
            request_id: rid(),
            status_group_id: group.status_group_id,
            ..Default::default()
        })
        .await
        .expect("delete");
    let err = app
        .api
        .list_clients(by_group(group.status_group_id))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["status_group_ids[0]"]);
}

#[tokio::test]
async fn a_status_clients_hold_cannot_be_deleted_and_the_refusal_gives_the_count() {
    let mut app = spawn_app().await;
    let partner = app.add_status(ClientStage::Real, "Partner").await;
    let group = add_group(&mut app, "Partners", vec![partner.status_id]).await;
    let mut clients = Vec::new();
    for name in ["A", "B", "C"] {
        let id = app.create(name).await.client_id;
        app.set_client_status(id, partner.status_id).await;
        clients.push(id);
    }
    let delete = DeleteStatusRequest {
        request_id: rid(),
        status_id: partner.status_id,
        ..Default::default()
    };
    let err = app.catalog.delete_status(delete.clone()).await.unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "STATUS_IN_USE");
    assert_eq!(in_use_count(&err), "3");
    assert_eq!(precondition(&err), "STATUS_IN_USE");
    assert_eq!(
        statuses(&mut app, &[ClientStage::Real]).await.len(),
        2,
        "nothing deleted"
    );
    for &id in &clients {
        app.set_client_status(id, default_status(ClientStage::Real))
            .await;
    }
    // Same request id after the refusal: a refusal is not stored, so this runs afresh.
    let deleted = app
        .catalog
        .delete_status(delete.clone())
        .await
        .expect("deleted")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(deleted.name, "Partner");
    // Retried once more: the first answer again, not NOT_FOUND.
    let again = app
        .catalog
        .delete_status(delete)
        .await
        .expect("retry")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(again, deleted);
    assert_eq!(statuses(&mut app, &[ClientStage::Real]).await.len(), 1);
    let groups = app
        .catalog
        .list_status_groups(ListStatusGroupsRequest {})
        .await
        .expect("groups")
        .into_inner()
        .status_groups;
    assert_eq!(groups[0].status_group_id, group.status_group_id);
    assert!(
        groups[0].status_ids.is_empty(),
        "a deleted status leaves its groups"
    );
    let err = app
        .api
        .set_status(SetStatusRequest {
            request_id: rid(),
            client_id: clients[0],
            status_id: partner.status_id,
            reason: "r".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["status_id"]);
}

#[tokio::test]
async fn a_soft_deleted_client_still_holds_its_status() {
    let mut app = spawn_app().await;
    let web = app.add_status(ClientStage::New, "Web lead").await;
    let c = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Bot".into(),
                ..Default::default()
            }),
            status_id: web.status_id,
            ..Default::default()
        })
        .await;
    assert_eq!(
        c.status_id, web.status_id,
        "a NEW status chosen at creation"
    );
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: c.client_id,
            note: "n".into(),
            fictitious_reason: "bot".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
    let err = app
        .catalog
        .delete_status(DeleteStatusRequest {
            request_id: rid(),
            status_id: web.status_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        in_use_count(&err),
        "1",
        "restoring the client must find its status"
    );
}

#[tokio::test]
async fn classifications_are_named_ordered_lists_clients_reference() {
    let mut app = spawn_app().await;
    let a = app
        .add_classification(ClassificationKind::CustomerType, "A")
        .await;
    let b = app
        .add_classification(ClassificationKind::CustomerType, "B")
        .await;
    let retail = app
        .add_classification(ClassificationKind::Industry, "Retail")
        .await;
    app.add_classification(ClassificationKind::HeadcountClass, "1-10")
        .await;
    let types = app
        .catalog
        .list_classifications(ListClassificationsRequest {
            kind: ClassificationKind::CustomerType as i32,
        })
        .await
        .expect("list")
        .into_inner()
        .classifications;
    let names: Vec<&str> = types.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!((types[0].display_order, types[1].display_order), (1, 2));
    let everything = app
        .catalog
        .list_classifications(ListClassificationsRequest { kind: 0 })
        .await
        .expect("list")
        .into_inner()
        .classifications;
    assert_eq!(everything.len(), 4);

    let with = |last: &str, customer_type_id: i64, industry_id: i64| CreateClientRequest {
        name: Some(ClientName {
            last_name: last.into(),
            ..Default::default()
        }),
        classifications: Some(Classifications {
            customer_type_id,
            industry_id,
            headcount_class_id: 0,
        }),
        ..Default::default()
    };
    let ca = app.create_with(with("Levi", a, retail)).await.client_id;
    let cb = app.create_with(with("Cohen", b, 0)).await.client_id;
    app.create("Unclassified").await;
    let err = app
        .api
        .create_client(CreateClientRequest {
            request_id: rid(),
            ..with("Bad", retail, a)
        })
        .await
        .unwrap_err();
    let mut fields = bad_fields(&err);
    fields.sort();
    assert_eq!(
        fields,
        [
            "classifications.customer_type_id",
            "classifications.industry_id"
        ],
        "each id must come from its own list"
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                customer_type_ids: vec![a],
                ..Default::default()
            }
        )
        .await,
        [ca]
    );
    assert_eq!(
        list(
            &mut app,
            ListClientsRequest {
                customer_type_ids: vec![a, b],
                ..Default::default()
            }
        )
        .await,
        [ca, cb]
    );

    let renamed = app
        .catalog
        .update_classification(UpdateClassificationRequest {
            request_id: rid(),
            classification_id: a,
            name: Some("A: key accounts".into()),
            ..Default::default()
        })
        .await
        .expect("rename")
        .into_inner()
        .classification
        .expect("classification");
    assert_eq!(renamed.kind, ClassificationKind::CustomerType as i32);
    let err = app
        .catalog
        .delete_classification(DeleteClassificationRequest {
            request_id: rid(),
            classification_id: retail,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLASSIFICATION_IN_USE");
    assert_eq!(in_use_count(&err), "1");
    let unused = app
        .add_classification(ClassificationKind::Industry, "Mining")
        .await;
    app.catalog
        .delete_classification(DeleteClassificationRequest {
            request_id: rid(),
            classification_id: unused,
            ..Default::default()
        })
        .await
        .expect("unused is deleted");
}

#[tokio::test]
async fn a_status_change_within_a_stage_is_streamed_with_old_and_new_status() {
    let mut app = spawn_app().await;
    let key = app.add_status(ClientStage::Real, "Key account").await;
    let c = app.create("Levi").await;
    app.invoice(c.client_id, "INV-1").await;
    app.set_client_status(c.client_id, key.status_id).await;
    let mut stream = app
        .api
        .stream_status_changes(StreamStatusChangesRequest {
            client_ids: vec![c.client_id],
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let mut events = Vec::new();
    for _ in 0..2 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("in time")
            .expect("ok")
            .expect("event");
        events.push(next.event.expect("event"));
    }
    assert_eq!(events[0].kind, StatusEventKind::StageChanged as i32);
    assert_eq!(
        (events[0].old_status_id, events[0].new_status_id),
        (
            default_status(ClientStage::New),
            default_status(ClientStage::Real)
        )
    );
    assert_eq!(events[1].kind, StatusEventKind::StatusChanged as i32);
    assert_eq!(events[1].old_stage, events[1].new_stage);
    assert_eq!(
        (events[1].old_status_id, events[1].new_status_id),
        (default_status(ClientStage::Real), key.status_id)
    );
    assert_eq!(
        events[1].client.as_ref().map(|c| c.status_id),
        Some(key.status_id)
    );
}

#[tokio::test]
async fn a_status_can_be_deleted_by_moving_its_clients_to_another_of_the_stage() {
    let mut app = spawn_app().await;
    let web = app.add_status(ClientStage::New, "Web lead").await;
    let fair = app.add_status(ClientStage::New, "Trade fair").await;
    let with_status = |last: &str| CreateClientRequest {
        name: Some(ClientName {
            last_name: last.into(),
            ..Default::default()
        }),
        status_id: web.status_id,
        ..Default::default()
    };
    let a = app.create_with(with_status("A")).await.client_id;
    let b = app.create_with(with_status("B")).await.client_id;
    let gone = app.create_with(with_status("Bot")).await.client_id;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: gone,
            note: "n".into(),
            fictitious_reason: "bot".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
    let delete = |replacement_status_id: i64| DeleteStatusRequest {
        request_id: rid(),
        status_id: web.status_id,
        replacement_status_id,
        ..Default::default()
    };
    for wrong in [web.status_id, default_status(ClientStage::Real), 999] {
        let err = app.catalog.delete_status(delete(wrong)).await.unwrap_err();
        assert_eq!(bad_fields(&err), ["replacement_status_id"], "{wrong}");
    }
    let answer = app
        .catalog
        .delete_status(delete(fair.status_id))
        .await
        .expect("deleted")
        .into_inner();
    assert_eq!(answer.moved_clients, 3);
    for id in [a, b, gone] {
        let c = app.get(id).await;
        assert_eq!(
            (c.status_id, c.status_name.as_str()),
            (fair.status_id, "Trade fair")
        );
        let last = app.history(id).await.pop().expect("history");
        assert_eq!(last.cause, "DeleteStatus");
        assert_eq!(last.details["new_status_id"], fair.status_id.to_string());
    }
    assert!(
        app.get(gone).await.deleted_at.is_some(),
        "still soft-deleted, now in a status that exists"
    );
    app.api
        .restore_client(RestoreClientRequest {
            request_id: rid(),
            client_id: gone,
            ..Default::default()
        })
        .await
        .expect("restore");
    let mut stream = app
        .api
        .stream_status_changes(StreamStatusChangesRequest {
            causes: vec!["DeleteStatus".into()],
            ..Default::default()
        })
        .await
        .expect("stream")
        .into_inner();
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("in time")
        .expect("ok")
        .and_then(|m| m.event)
        .expect("event");
    assert_eq!(event.kind, StatusEventKind::StatusChanged as i32);
    assert_eq!(
        (event.old_status_id, event.new_status_id),
        (web.status_id, fair.status_id)
    );
}

#[tokio::test]
async fn a_classification_can_be_deleted_by_moving_or_clearing_its_clients() {
    let mut app = spawn_app().await;
    let vip = app
        .add_classification(ClassificationKind::CustomerType, "VIP")
        .await;
    let a = app
        .add_classification(ClassificationKind::CustomerType, "A")
        .await;
    let retail = app
        .add_classification(ClassificationKind::Industry, "Retail")
        .await;
    let client = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: "Levi".into(),
                ..Default::default()
            }),
            classifications: Some(Classifications {
                customer_type_id: vip,
                industry_id: retail,
                headcount_class_id: 0,
            }),
            ..Default::default()
        })
        .await
        .client_id;
    let err = app
        .catalog
        .delete_classification(DeleteClassificationRequest {
            request_id: rid(),
            classification_id: vip,
            replacement_classification_id: retail,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        ["replacement_classification_id"],
        "an industry cannot replace a customer type"
    );
    let moved = app
        .catalog
        .delete_classification(DeleteClassificationRequest {
            request_id: rid(),
            classification_id: vip,
            replacement_classification_id: a,
            ..Default::default()
        })
        .await
        .expect("merged into A")
        .into_inner();
    assert_eq!(moved.moved_clients, 1);
    let c = app.get(client).await;
    assert_eq!(
        c.classifications
            .map(|k| (k.customer_type_id, k.industry_id)),
        Some((a, retail))
    );
    app.catalog
        .delete_classification(DeleteClassificationRequest {
            request_id: rid(),
            classification_id: retail,
            clear_references: true,
            ..Default::default()
        })
        .await
        .expect("cleared");
    let c = app.get(client).await;
    assert_eq!(c.classifications.map(|k| k.industry_id), Some(0));
    assert_eq!(
        app.history(client).await.last().map(|e| e.cause.clone()),
        Some("DeleteClassification".to_string())
    );
}

//! UpdateClient: each mask path, the whole name and `*`, the history's old and
//! new values, the no-op, the implicit mask, refused paths and values, retries and versions.
use clientstatus::proto::*;
use tonic::Code;

use crate::card::*;
use crate::helpers::*;

/// Reads one field of a client, as text.
type Read = fn(&Client) -> String;

#[tokio::test]
async fn each_mask_path_changes_its_field_and_nothing_outside_the_mask() {
    let mut app = spawn_app().await;
    let parent = app.create("Parent Ltd").await;
    let industry = app
        .add_classification(ClassificationKind::Industry, "Retail")
        .await;
    let c = create_full(&mut app).await;
    // Every field of the message is set; only the masked one may change each time.
    let values = Client {
        name: Some(ClientName {
            last_name: "Cohen".into(),
            first_name: "Dina".into(),
            middle_name: "M".into(),
        }),
        branch: "Haifa".into(),
        email: "dina@example.org".into(),
        phone: "052-2222222".into(),
        external_lead_id: "L-2".into(),
        parent_client_id: parent.client_id,
        classifications: Some(Classifications {
            industry_id: industry,
            ..Default::default()
        }),
        custom_properties: [("size".to_string(), "XL".to_string())].into(),
        owner: "someone".into(),
        ..Default::default()
    };
    let cases: [(&str, Read); 11] = [
        ("name.first_name", |c| c.name.clone().unwrap().first_name),
        ("name.middle_name", |c| c.name.clone().unwrap().middle_name),
        ("name.last_name", |c| c.name.clone().unwrap().last_name),
        ("branch", |c| c.branch.clone()),
        ("email", |c| c.email.clone()),
        ("phone", |c| c.phone.clone()),
        ("external_lead_id", |c| c.external_lead_id.clone()),
        ("parent_client_id", |c| c.parent_client_id.to_string()),
        ("classifications.industry_id", |c| {
            c.classifications.unwrap().industry_id.to_string()
        }),
        ("custom_properties.size", |c| {
            c.custom_properties.get("size").cloned().unwrap_or_default()
        }),
        ("custom_properties", |c| {
            format!("{:?}", c.custom_properties)
        }),
    ];
    let mut before = app.get(c.client_id).await;
    for (path, read) in cases {
        let got = update(&mut app, c.client_id, &[path], values.clone())
            .await
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
        assert!(got.changed, "{path}");
        let after = got.client.expect("client");
        assert_eq!(read(&after), read(&values), "{path} took the new value");
        assert_eq!(after.version, before.version + 1, "{path}");
        assert_eq!(after.owner, before.owner, "owner is not a detail");
        for (other, read_other) in cases {
            let untouched = other != path
                && !(path == "custom_properties" && other.starts_with("custom_properties"))
                && !(path == "custom_properties.size" && other == "custom_properties");
            if untouched {
                assert_eq!(
                    read_other(&after),
                    read_other(&before),
                    "{path} left {other} alone"
                );
            }
        }
        assert_eq!(app.get(c.client_id).await, after, "{path} was stored");
        before = after;
    }
    let children = app.get(parent.client_id).await.child_client_ids;
    assert_eq!(
        children,
        vec![c.client_id],
        "the parent lists its new child"
    );
}

#[tokio::test]
async fn the_whole_name_and_classifications_change_together_and_star_changes_every_detail() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    let values = Client {
        name: Some(ClientName {
            last_name: "Cohen".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let got = update(&mut app, c.client_id, &["name"], values.clone())
        .await
        .expect("update")
        .client
        .expect("client");
    let name = got.name.expect("name");
    assert_eq!(
        (name.last_name.as_str(), name.first_name.as_str()),
        ("Cohen", "")
    );
    assert_eq!(got.email, "dana@example.com");
    let all = update(&mut app, c.client_id, &["*"], values)
        .await
        .expect("update")
        .client
        .expect("client");
    assert!(all.email.is_empty() && all.phone.is_empty() && all.branch.is_empty());
    assert!(all.custom_properties.is_empty());
}

#[tokio::test]
async fn the_history_entry_lists_each_changed_field_with_old_and_new_value() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    let values = Client {
        email: "new@example.com".into(),
        phone: "050-1111111".into(), // unchanged: not listed
        ..Default::default()
    };
    update(&mut app, c.client_id, &["email", "phone"], values)
        .await
        .expect("update");
    let history = app.history(c.client_id).await;
    let last = history.last().expect("entry");
    assert_eq!(last.cause, "UpdateClient");
    assert_eq!(last.details["changed"], "email");
    assert_eq!(last.details["old.email"], "dana@example.com");
    assert_eq!(last.details["new.email"], "new@example.com");
    assert!(!last.details.contains_key("old.phone"));
    assert_eq!(last.version, c.version + 1);
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_nothing_and_returns_the_client() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    let before_history = app.history(c.client_id).await.len();
    let got = update(
        &mut app,
        c.client_id,
        &["email", "branch"],
        Client {
            email: "dana@example.com".into(),
            branch: "Tel Aviv".into(),
            ..Default::default()
        },
    )
    .await
    .expect("accepted");
    assert!(!got.changed);
    assert_eq!(got.client.expect("client"), c);
    assert_eq!(app.get(c.client_id).await.version, c.version);
    assert_eq!(app.history(c.client_id).await.len(), before_history);
}

#[tokio::test]
async fn no_mask_means_the_fields_the_request_sets() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    app.api
        .update_client(UpdateClientRequest {
            request_id: rid(),
            client_id: c.client_id,
            client: Some(Client {
                phone: "053-3333333".into(),
                custom_properties: [("size".to_string(), "S".to_string())].into(),
                ..Default::default()
            }),
            update_mask: None,
            ..Default::default()
        })
        .await
        .expect("update");
    let got = app.get(c.client_id).await;
    assert_eq!(got.phone, "053-3333333");
    assert_eq!(
        got.email, "dana@example.com",
        "an empty field is not in the implicit mask"
    );
    assert_eq!(got.custom_properties.len(), 2, "a property is merged in");
}

#[tokio::test]
async fn unknown_paths_and_rule_owned_fields_are_invalid_argument_naming_the_path() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    for path in [
        "colour",
        "stage",
        "status_id",
        "owner",
        "last_call_at",
        "first_meeting_at",
        "became_real_at",
        "created_by",
        "name.nickname",
    ] {
        let err = update(&mut app, c.client_id, &["email", path], Client::default())
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), vec!["update_mask.paths[1]"], "{path}");
        assert!(err.message().contains(path), "{path}: {}", err.message());
    }
    let err = update(
        &mut app,
        c.client_id,
        &["email", "name.last_name"],
        Client {
            email: "not an email".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        bad_fields(&err),
        vec!["client.email", "client.name.last_name"],
        "a bad email and a blank last name, both reported"
    );
    let err = update(
        &mut app,
        c.client_id,
        &["email"],
        Client {
            client_id: 999,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), vec!["client.client_id"]);
    assert_eq!(app.get(c.client_id).await, c, "nothing changed");
    let err = update(&mut app, 999_999, &["email"], Client::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_expected_version_is_checked() {
    let mut app = spawn_app().await;
    let c = create_full(&mut app).await;
    let req = UpdateClientRequest {
        request_id: rid(),
        client_id: c.client_id,
        expected_version: Some(c.version),
        client: Some(Client {
            branch: "Eilat".into(),
            ..Default::default()
        }),
        update_mask: mask(&["branch"]),
        ..Default::default()
    };
    let first = app
        .api
        .update_client(req.clone())
        .await
        .expect("first")
        .into_inner();
    let again = app
        .api
        .update_client(req.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(
        app.history(c.client_id).await.len(),
        2,
        "one entry for both"
    );
    let mut other = req.clone();
    other.client = Some(Client {
        branch: "Acre".into(),
        ..Default::default()
    });
    let err = app.api.update_client(other).await.unwrap_err();
    assert_error(&err, Code::InvalidArgument, "REQUEST_ID_REUSED");
    let mut stale = req;
    stale.request_id = rid();
    let err = app.api.update_client(stale).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
}

#[tokio::test]
async fn a_deleted_client_is_not_edited() {
    let mut app = spawn_app().await;
    let c = app.create("Gone").await;
    app.api
        .declare_fictitious(DeclareFictitiousRequest {
            request_id: rid(),
            client_id: c.client_id,
            note: "n".into(),
            fictitious_reason: "f".into(),
            ..Default::default()
        })
        .await
        .expect("fictitious");
    let values = Client {
        branch: "x".into(),
        ..Default::default()
    };
    let err = update(&mut app, c.client_id, &["branch"], values)
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_DELETED");
}

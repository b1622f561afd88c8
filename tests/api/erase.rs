//! EraseClient: the personal data leaves every table (the whole database file
//! or schema is searched for it afterwards), the streams replayed from 0 hold none of it, what
//! accounting needs stays, and erasing twice changes nothing.
use clientstatus::proto::*;
use tonic::Code;

use crate::card::{all_alerts, all_events, erase, merge, update};
use crate::helpers::*;

const LAST: &str = "Zwickyerase";
const FIRST: &str = "Marguerite";
const HEBREW: &str = "מרגריטה";
const EMAIL: &str = "marguerite.zwicky@erase.example";
const NEW_EMAIL: &str = "mz.second@erase.example";
const PHONE: &str = "+972-54-7654321";
const PHONE_KEY: &str = "972547654321";
const NOTE: &str = "Marguerite told us about her knee surgery";
const PROPERTY: &str = "favourite-colour-teal";
const LEAD_ID: &str = "LEAD-ZW-4711";

/// Every trace of the person that must be gone.
fn needles() -> Vec<&'static str> {
    vec![
        LAST, FIRST, HEBREW, EMAIL, NEW_EMAIL, PHONE, PHONE_KEY, NOTE, PROPERTY, LEAD_ID,
    ]
}

/// A client with a history that wrote its personal data everywhere: history notes and
/// details, the summary, stream snapshots, alert snapshots, stored answers (with and without a
/// history entry).
async fn a_person_with_a_past(app: &mut TestApp) -> Client {
    let c = app
        .create_with(CreateClientRequest {
            name: Some(ClientName {
                last_name: LAST.into(),
                first_name: FIRST.into(),
                middle_name: HEBREW.into(),
            }),
            email: EMAIL.into(),
            phone: PHONE.into(),
            external_lead_id: LEAD_ID.into(),
            custom_properties: [("colour".to_string(), PROPERTY.to_string())].into(),
            lead_status: LeadStatus::Hot as i32,
            ..Default::default()
        })
        .await;
    let id = c.client_id;
    app.api
        .record_contact_attempt(RecordContactAttemptRequest {
            request_id: rid(),
            client_id: id,
            outcome: CallOutcome::CallWithContent as i32,
            note: NOTE.into(),
            ..Default::default()
        })
        .await
        .expect("call");
    let values = Client {
        email: NEW_EMAIL.into(),
        ..Default::default()
    };
    update(app, id, &["email"], values.clone())
        .await
        .expect("edit");
    update(app, id, &["email"], values)
        .await
        .expect("a no-op edit: an answer without history");
    app.invoice(id, "INV-ZW-1").await; // REAL: a status event and a BECAME_REAL alert
    assert!(
        app.invoice(id, "INV-ZW-1").await.already_recorded,
        "an answer without history"
    );
    // The portal re-sends the lead: INTERESTED_AGAIN alert and an answer holding the client.
    app.create_with(CreateClientRequest {
        name: Some(ClientName {
            last_name: LAST.into(),
            ..Default::default()
        }),
        email: NEW_EMAIL.into(),
        ..Default::default()
    })
    .await;
    app.get(id).await
}

/// Every place the database keeps bytes, as text: the SQLite file and its log, or every row
/// of every table of the Postgres schema (and `pg_dump`'s dump of it where the tool exists).
async fn whole_database(app: &TestApp) -> String {
    let url = app.db.url.clone();
    if let Some(path) = url.strip_prefix("sqlite:") {
        let mut all = Vec::new();
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                all.extend(bytes);
            }
        }
        return String::from_utf8_lossy(&all).into_owned();
    }
    let schema = url
        .split("search_path%3D")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("the test schema")
        .to_string();
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    assert!(tables.len() >= 8, "{tables:?}");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM {schema}.{table} t"))
                .fetch_all(&mut conn)
                .await
                .expect("rows");
        text.push_str(&rows.join("\n"));
    }
    let base = url.split('?').next().unwrap_or(&url).to_string();
    if let Ok(dump) = std::process::Command::new("pg_dump")
        .args(["--data-only", &format!("--schema={schema}"), &base])
        .output()
        && dump.status.success()
    {
        assert!(!dump.stdout.is_empty());
        text.push_str(&String::from_utf8_lossy(&dump.stdout));
    }
    text
}

fn assert_forgotten(haystack: &str, what: &str) {
    for needle in needles() {
        assert!(!haystack.contains(needle), "{what} still holds {needle:?}");
    }
}

#[tokio::test]
async fn erasing_reaches_every_table_and_the_database_holds_none_of_the_personal_data() {
    let mut app = spawn_app().await;
    let c = a_person_with_a_past(&mut app).await;
    let before = whole_database(&app).await;
    for needle in [LAST, EMAIL, PHONE, NOTE, PROPERTY] {
        assert!(
            before.contains(needle),
            "the check would see {needle:?} if it stayed"
        );
    }
    let erased = erase(&mut app, c.client_id).await.expect("erase");
    assert!(!erased.already_erased);
    assert_eq!(erased.erased_client_ids, vec![c.client_id]);
    assert_forgotten(&whole_database(&app).await, "the database");
}

#[tokio::test]
async fn the_streams_replayed_from_zero_hold_no_personal_data_and_say_erased() {
    let mut app = spawn_app().await;
    let c = a_person_with_a_past(&mut app).await;
    // The hubs have read (and hold in memory) the events and alerts from before.
    assert!(format!("{:?}", all_events(&mut app).await).contains(EMAIL));
    assert!(!all_alerts(&mut app).await.is_empty());
    erase(&mut app, c.client_id).await.expect("erase");
    let events = all_events(&mut app).await;
    assert_forgotten(&format!("{events:?}"), "the status stream");
    let last = events.last().expect("an event");
    assert_eq!(last.kind, StatusEventKind::Erased as i32);
    assert_eq!(last.client_id, c.client_id);
    let snapshot = last.client.clone().expect("snapshot");
    assert!(snapshot.erased_at.is_some());
    assert_forgotten(
        &format!("{:?}", all_alerts(&mut app).await),
        "the alert stream",
    );
}

#[tokio::test]
async fn what_is_not_personal_stays_and_the_history_keeps_its_shape() {
    let mut app = spawn_app().await;
    let c = a_person_with_a_past(&mut app).await;
    let history_before = app.history(c.client_id).await;
    let erased = erase(&mut app, c.client_id)
        .await
        .expect("erase")
        .client
        .expect("client");
    assert_eq!(erased.client_id, c.client_id);
    assert_eq!((erased.stage, erased.status_id), (c.stage, c.status_id));
    assert_eq!(erased.created_at, c.created_at);
    assert_eq!(erased.became_real_at, c.became_real_at);
    assert_eq!(erased.last_call_at, c.last_call_at);
    assert!(erased.deleted_at.is_some() && erased.erased_at.is_some());
    assert!(erased.email.is_empty() && erased.phone.is_empty());
    assert!(erased.recent_events_summary.is_empty() && erased.custom_properties.is_empty());
    assert_eq!(app.get(c.client_id).await, erased);
    let history = app.history(c.client_id).await;
    assert_eq!(history.len(), history_before.len() + 1);
    let causes = |h: &[HistoryEntry]| h.iter().map(|e| e.cause.clone()).collect::<Vec<_>>();
    assert_eq!(
        causes(&history[..history_before.len()]),
        causes(&history_before)
    );
    assert_eq!(history.last().expect("entry").cause, "EraseClient");
    let invoice = history
        .iter()
        .find(|e| e.cause == "RecordInvoice")
        .expect("invoice");
    assert_eq!(
        invoice.details["document_id"], "INV-ZW-1",
        "document keys stay"
    );
    assert!(history.iter().all(|e| e.note.is_empty()));
    // The document still belongs to the erased client: another client cannot take it.
    let other = app.create("Other").await;
    let err = app
        .api
        .record_invoice(RecordInvoiceRequest {
            request_id: rid(),
            client_id: other.client_id,
            document_type: AccountingDocumentType::Invoice as i32,
            document_number: "INV-ZW-1".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    // Out of lists like a deleted client, for good.
    let listed = app
        .api
        .list_clients(ListClientsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.clients.iter().all(|l| l.client_id != c.client_id));
    let err = app
        .api
        .restore_client(RestoreClientRequest {
            request_id: rid(),
            client_id: c.client_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(&err, Code::FailedPrecondition, "CLIENT_ERASED");
}

#[tokio::test]
async fn erasing_twice_changes_nothing_the_second_time_and_a_retry_gets_the_first_answer() {
    let mut app = spawn_app().await;
    let c = a_person_with_a_past(&mut app).await;
    let req = EraseClientRequest {
        request_id: rid(),
        client_id: c.client_id,
        expected_version: Some(c.version),
        ..Default::default()
    };
    let first = app
        .api
        .erase_client(req.clone())
        .await
        .expect("erase")
        .into_inner();
    let retry = app.api.erase_client(req).await.expect("retry").into_inner();
    assert_eq!(first, retry);
    let events = all_events(&mut app).await.len();
    let again = erase(&mut app, c.client_id).await.expect("again");
    assert!(again.already_erased);
    assert_eq!(
        again.client.expect("client").version,
        first.client.expect("client").version
    );
    assert_eq!(
        all_events(&mut app).await.len(),
        events,
        "no second ERASED event"
    );
    let stale = EraseClientRequest {
        request_id: rid(),
        client_id: c.client_id,
        expected_version: Some(c.version),
        ..Default::default()
    };
    assert_eq!(
        app.api.erase_client(stale).await.unwrap_err().code(),
        Code::Aborted
    );
    let err = erase(&mut app, 999_999).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn erasing_a_merged_person_erases_every_card_of_theirs() {
    let mut app = spawn_app().await;
    let s = app.create("Survivor").await;
    let m = a_person_with_a_past(&mut app).await;
    merge(&mut app, s.client_id, &[m.client_id])
        .await
        .expect("merge");
    assert!(whole_database(&app).await.contains(EMAIL));
    let erased = erase(&mut app, m.client_id)
        .await
        .expect("erase by the old number");
    assert_eq!(erased.client.expect("client").client_id, s.client_id);
    assert_eq!(erased.erased_client_ids, vec![s.client_id, m.client_id]);
    assert_forgotten(&whole_database(&app).await, "the database");
}

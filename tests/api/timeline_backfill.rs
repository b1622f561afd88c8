//! The migration that fills the stage timeline for clients written before it: run again over
//! a history written through the API (late events, explicit moves down, a reset, a merge, a
//! deletion), it must give every client the same dates and the reports the same answers as
//! the writes that kept them in step. The two are written separately (SQL in the migration,
//! Rust in `domain::timeline`), so this is what ties them together.
use clientstatus::proto::*;
use sqlx::Connection;

use crate::helpers::*;
use crate::timeline::{at, call_at, create_at, fixture, invoice_at, march, set_at};

const MIGRATION: i64 = 20261222000001;

/// More than the reports' fixture: what replays differently from arrival order.
async fn history(app: &mut TestApp) -> Vec<i64> {
    fixture(app).await;
    let bounce = create_at(app, "Bounce", "avi", at(1, 9)).await;
    call_at(app, bounce, at(5, 9)).await;
    set_at(app, bounce, ClientStage::New, at(3, 9)).await;
    invoice_at(app, bounce, at(9, 9)).await;
    set_at(app, bounce, ClientStage::FollowUp, at(10, 9)).await;
    call_at(app, bounce, ts("2026-02-25T09:00:00Z")).await;
    let reset = create_at(app, "Reset", "dana", at(2, 9)).await;
    call_at(app, reset, at(3, 9)).await;
    app.api
        .reassign(ReassignRequest {
            request_id: rid(),
            client_ids: vec![reset],
            new_owner: "yossi".into(),
            reset_stage: Some(true),
            occurred_at: Some(at(6, 9)),
            ..Default::default()
        })
        .await
        .expect("reassign");
    call_at(app, reset, at(4, 9)).await;
    let dup = create_at(app, "Dup", "avi", ts("2026-02-10T09:00:00Z")).await;
    invoice_at(app, dup, ts("2026-02-11T09:00:00Z")).await;
    let keep = create_at(app, "Keep", "avi", at(3, 9)).await;
    call_at(app, keep, at(4, 9)).await;
    app.api
        .merge_clients(MergeClientsRequest {
            request_id: rid(),
            survivor_client_id: keep,
            merged_client_ids: vec![dup],
            note: "same person".into(),
            ..Default::default()
        })
        .await
        .expect("merge");
    // A fresh database numbers its clients from 1.
    (1..=keep).collect()
}

/// Everything the timeline answers: each client's dates, and the three reports (time in
/// stage without the durations of those still in a stage, which grow with the clock).
async fn answers(app: &mut TestApp, ids: &[i64]) -> Vec<String> {
    let mut out = Vec::new();
    for &id in ids {
        let c = app.get(id).await;
        out.push(format!("client {id}: {:?}", c.stage_dates));
    }
    let (_, to) = march();
    let from = Some(ts("2026-02-01T00:00:00Z"));
    for (a, b) in [
        (ClientStage::New, ClientStage::FollowUp),
        (ClientStage::FollowUp, ClientStage::Real),
        (ClientStage::New, ClientStage::Real),
        (ClientStage::Real, ClientStage::FollowUp),
    ] {
        let r = app
            .reports
            .stage_conversion(StageConversionRequest {
                from,
                to,
                from_stage: a as i32,
                to_stage: b as i32,
                within_days: 3,
                group_by: TimelineGroup::Owner as i32,
                include_deleted: true,
            })
            .await
            .expect("conversion")
            .into_inner();
        out.push(format!("{a:?} to {b:?}: {:?}", r.groups));
    }
    let stays = app
        .reports
        .time_in_stage(TimeInStageRequest {
            from,
            to,
            group_by: TimelineGroup::Owner as i32,
            ..Default::default()
        })
        .await
        .expect("time in stage")
        .into_inner();
    for s in stays.stages {
        out.push(format!(
            "stay {} {}: {} {:?} {:?}, still {}",
            s.stage, s.group, s.left, s.median, s.p90, s.still_in
        ));
    }
    for first_entries_only in [false, true] {
        let entries = app
            .reports
            .stage_entries(StageEntriesRequest {
                from,
                to,
                group_by: TimelineGroup::RecordSource as i32,
                first_entries_only,
                include_deleted: true,
                ..Default::default()
            })
            .await
            .expect("entries")
            .into_inner();
        out.push(format!("entries: {:?}", entries.counts));
    }
    out
}

/// Puts the database back to before the timeline's migration, keeping the history.
async fn unmigrate(url: &str) {
    let statements = [
        "DROP TABLE stage_firsts".to_string(),
        "DROP TABLE stage_visits".to_string(),
        if url.starts_with("sqlite:") {
            "UPDATE clients SET body = json_remove(body, '$.timeline')".to_string()
        } else {
            "UPDATE clients SET body = body - 'timeline'".to_string()
        },
        format!("DELETE FROM _sqlx_migrations WHERE version = {MIGRATION}"),
    ];
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        for s in &statements {
            sqlx::query(s).execute(&mut conn).await.expect(s);
        }
        conn.close().await.expect("close");
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        for s in &statements {
            sqlx::query(s).execute(&mut conn).await.expect(s);
        }
        conn.close().await.expect("close");
    }
}

#[tokio::test]
async fn the_migration_gives_the_history_written_before_it_the_same_timeline() {
    let mut app = spawn_app().await;
    let ids = history(&mut app).await;
    let kept = answers(&mut app, &ids).await;
    assert!(
        kept.iter().any(|a| a.contains("first_entered_at: Some")),
        "{kept:?}"
    );
    let (config, db) = (app.config.clone(), app.db.clone());
    app.stop().await;
    unmigrate(&db.url).await;
    let mut app = start(config, db).await;
    let filled = answers(&mut app, &ids).await;
    for (k, f) in kept.iter().zip(&filled) {
        assert_eq!(k, f);
    }
    assert_eq!(kept.len(), filled.len());
    // And the next write goes on from there.
    let c = call_at(&mut app, ids[0], at(20, 9)).await;
    assert_eq!(c.stage_dates.len(), 7);
}

//! Rows as both backends read and write them, so decoding lives in one place. Times are
//! microseconds since the Unix epoch; the client record is JSON beside its indexed columns.
use std::collections::BTreeMap;

use chrono::DateTime;

use crate::domain::alerts::Timer;
use crate::domain::catalog::{self, CatalogKind, Entry};
use crate::domain::{AlertKind, Classifications, Client, Stage, StatusEvent, Timestamp};

use super::sql::Row;
use super::{AlertRecord, HistoryRecord, Result, StatusEventRecord, StoreError};

/// Selects what [`client`] decodes, from `clients c`: the record, its catalogue references
/// (these columns, not the body, are authoritative), the status's current name and the
/// children (comma-separated). `string_agg` is Postgres' and SQLite's (3.44+) alike.
pub const CLIENT_COLUMNS: &str = "c.client_id, c.body, c.status_id, c.customer_type_id, \
     c.industry_id, c.headcount_class_id, c.merged_into, \
     (SELECT s.name FROM catalog s WHERE s.entry_id = c.status_id) AS status_name, \
     (SELECT string_agg(CAST(k.client_id AS TEXT), ',') FROM clients k \
      WHERE k.parent_client_id = c.client_id) AS children";

pub fn client(r: &impl Row) -> Result<Client> {
    let client_id = r.i64("client_id")?;
    let mut client: Client = r.json("body")?;
    client.client_id = client_id;
    // Rows written before the catalogue existed hold no status: the stage's built-in default.
    client.status_id = r
        .opt_i64("status_id")?
        .unwrap_or_else(|| catalog::builtin_default_status(client.stage));
    client.status_name = r.opt_text("status_name")?.unwrap_or_default();
    client.classifications = Classifications {
        customer_type_id: r.opt_i64("customer_type_id")?,
        industry_id: r.opt_i64("industry_id")?,
        headcount_class_id: r.opt_i64("headcount_class_id")?,
    };
    // A survivor merged later re-points its merged clients with one update of this column.
    client.merged_into = r.opt_i64("merged_into")?;
    client.child_client_ids = r
        .opt_text("children")?
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    client.child_client_ids.sort_unstable();
    Ok(client)
}

pub const HISTORY_COLUMNS: &str = "entry_id, client_id, version, cause, actor, principal, \
     request_id, occurred_at, recorded_at, old_stage, new_stage, note, details";

pub fn history(r: &impl Row) -> Result<HistoryRecord> {
    Ok(HistoryRecord {
        entry_id: r.i64("entry_id")?,
        client_id: r.i64("client_id")?,
        version: r.i64("version")?,
        cause: r.text("cause")?,
        actor: r.text("actor")?,
        principal: r.text("principal")?,
        request_id: r.text("request_id")?,
        occurred_at: from_micros(r.i64("occurred_at")?)?,
        recorded_at: from_micros(r.i64("recorded_at")?)?,
        old_stage: r.opt_i64("old_stage")?.map(stage).transpose()?,
        new_stage: stage(r.i64("new_stage")?)?,
        note: r.text("note")?,
        details: r.json::<BTreeMap<String, String>>("details")?,
    })
}

pub fn from_micros(v: i64) -> Result<Timestamp> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::internal(format!("bad time {v}")))
}

pub fn stage(rank: i64) -> Result<Stage> {
    Stage::from_rank(rank).ok_or_else(|| StoreError::internal(format!("bad stage {rank}")))
}

pub const STATUS_EVENT_COLUMNS: &str = "seq, client_id, kind, cause, actor, request_id, \
     old_stage, new_stage, old_status_id, new_status_id, occurred_at, recorded_at, snapshot";

/// A stored snapshot: the client as it was then (with a status even if written before the
/// catalogue existed).
fn snapshot(r: &impl Row) -> Result<Client> {
    let mut client: Client = r.json("snapshot")?;
    client.fill_legacy_status();
    Ok(client)
}

pub fn status_event(r: &impl Row) -> Result<StatusEventRecord> {
    let kind = r.text("kind")?;
    Ok(StatusEventRecord {
        seq: r.i64("seq")?,
        client_id: r.i64("client_id")?,
        kind: StatusEvent::from_name(&kind)
            .ok_or_else(|| StoreError::internal(format!("bad event kind {kind}")))?,
        cause: r.text("cause")?,
        actor: r.text("actor")?,
        request_id: r.text("request_id")?,
        old_stage: stage(r.i64("old_stage")?)?,
        new_stage: stage(r.i64("new_stage")?)?,
        old_status_id: r.i64("old_status_id")?,
        new_status_id: r.i64("new_status_id")?,
        occurred_at: from_micros(r.i64("occurred_at")?)?,
        recorded_at: from_micros(r.i64("recorded_at")?)?,
        client: snapshot(r)?,
    })
}

pub const ALERT_COLUMNS: &str = "seq, kind, client_id, occurrence_key, due_at, raised_at, snapshot";

fn alert_kind(name: &str) -> Result<AlertKind> {
    AlertKind::from_name(name).ok_or_else(|| StoreError::internal(format!("bad alert kind {name}")))
}

pub fn alert(r: &impl Row) -> Result<AlertRecord> {
    Ok(AlertRecord {
        seq: r.i64("seq")?,
        kind: alert_kind(&r.text("kind")?)?,
        client_id: r.i64("client_id")?,
        occurrence_key: r.text("occurrence_key")?,
        due_at: from_micros(r.i64("due_at")?)?,
        raised_at: from_micros(r.i64("raised_at")?)?,
        client: snapshot(r)?,
    })
}

pub const TIMER_COLUMNS: &str = "client_id, kind, base_at, occurrence_key";

pub fn timer(r: &impl Row) -> Result<(i64, Timer)> {
    Ok((
        r.i64("client_id")?,
        Timer {
            kind: alert_kind(&r.text("kind")?)?,
            base_at: from_micros(r.i64("base_at")?)?,
            occurrence_key: r.text("occurrence_key")?,
        },
    ))
}

/// The catalogue's columns.
pub const ENTRY_COLUMNS: &str = "entry_id, kind, stage, name, display_order, color, \
     selectable_for_project, selectable_as_supplier, ended, is_default, status_ids, version, \
     created_at, updated_at";

pub fn entry(r: &impl Row) -> Result<Entry> {
    let entry_id = r.i64("entry_id")?;
    let kind = r.text("kind")?;
    Ok(Entry {
        entry_id,
        kind: CatalogKind::from_name(&kind)
            .ok_or_else(|| StoreError::internal(format!("bad catalogue kind {kind}")))?,
        name: r.text("name")?,
        display_order: r.i32("display_order")?,
        stage: r.opt_i64("stage")?.map(stage).transpose()?,
        color: r.text("color")?,
        selectable_for_project: r.bool("selectable_for_project")?,
        selectable_as_supplier: r.bool("selectable_as_supplier")?,
        ended: r.bool("ended")?,
        is_default: r.bool("is_default")?,
        status_ids: serde_json::from_str(&r.text("status_ids")?).map_err(|e| {
            StoreError::internal(format!("status ids of entry {entry_id} unreadable: {e}"))
        })?,
        version: r.i64("version")?,
        created_at: from_micros(r.i64("created_at")?)?,
        updated_at: from_micros(r.i64("updated_at")?)?,
    })
}

/// Entries in listing order: kind (in the proto's order), stage, display order, name, id. Sorted
/// here rather than in SQL so both backends agree whatever their collation.
pub fn entries_in_order(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by(|a, b| {
        (a.kind, a.stage, a.display_order, &a.name, a.entry_id).cmp(&(
            b.kind,
            b.stage,
            b.display_order,
            &b.name,
            b.entry_id,
        ))
    });
    entries
}

/// The JSON array an entry's `status_ids` column holds.
pub fn status_ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// The client column that references entries of `kind`, for counting who uses an entry.
pub fn reference_column(kind: CatalogKind) -> Option<&'static str> {
    match kind {
        CatalogKind::Status => Some("status_id"),
        CatalogKind::CustomerType => Some("customer_type_id"),
        CatalogKind::Industry => Some("industry_id"),
        CatalogKind::HeadcountClass => Some("headcount_class_id"),
        CatalogKind::StatusGroup => None,
    }
}

/// Serialises a record for a JSON column.
pub fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::internal(format!("{what} not serialisable: {e}")))
}

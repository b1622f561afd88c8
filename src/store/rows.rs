//! Row shapes both backends read and write, so decoding lives in one place. Times are
//! microseconds since the Unix epoch; the client record is JSON beside its indexed columns.
use chrono::DateTime;

use crate::domain::alerts::Timer;
use crate::domain::catalog::{self, CatalogKind, Entry};
use crate::domain::{AlertKind, Classifications, Client, Stage, StatusEvent, Timestamp};

use super::{AlertRecord, HistoryRecord, Result, StatusEventRecord, StoreError};

/// The columns every client query selects: the record and its children (comma-separated).
#[derive(Debug, sqlx::FromRow)]
pub struct ClientRow {
    pub client_id: i64,
    pub body: String,
    pub children: Option<String>,
    /// The catalogue references: these columns, not the body, are authoritative.
    pub status_id: Option<i64>,
    pub customer_type_id: Option<i64>,
    pub industry_id: Option<i64>,
    pub headcount_class_id: Option<i64>,
    pub status_name: Option<String>,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Client> {
        let mut client: Client = serde_json::from_str(&row.body).map_err(|e| {
            StoreError::Internal(format!("client {} unreadable: {e}", row.client_id))
        })?;
        client.client_id = row.client_id;
        client.status_id = row
            .status_id
            .unwrap_or_else(|| catalog::builtin_default_status(client.stage));
        client.status_name = row.status_name.unwrap_or_default();
        client.classifications = Classifications {
            customer_type_id: row.customer_type_id,
            industry_id: row.industry_id,
            headcount_class_id: row.headcount_class_id,
        };
        client.child_client_ids = row
            .children
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.parse().ok())
            .collect();
        client.child_client_ids.sort_unstable();
        Ok(client)
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct HistoryRow {
    pub entry_id: i64,
    pub client_id: i64,
    pub version: i64,
    pub cause: String,
    pub actor: String,
    pub principal: String,
    pub request_id: String,
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub old_stage: Option<i64>,
    pub new_stage: i64,
    pub note: String,
    pub details: String,
}

impl TryFrom<HistoryRow> for HistoryRecord {
    type Error = StoreError;

    fn try_from(r: HistoryRow) -> Result<HistoryRecord> {
        let stage = |rank: i64| {
            Stage::from_rank(rank).ok_or_else(|| StoreError::Internal(format!("bad stage {rank}")))
        };
        Ok(HistoryRecord {
            entry_id: r.entry_id,
            client_id: r.client_id,
            version: r.version,
            cause: r.cause,
            actor: r.actor,
            principal: r.principal,
            request_id: r.request_id,
            occurred_at: from_micros(r.occurred_at)?,
            recorded_at: from_micros(r.recorded_at)?,
            old_stage: r.old_stage.map(stage).transpose()?,
            new_stage: stage(r.new_stage)?,
            note: r.note,
            details: serde_json::from_str(&r.details)
                .map_err(|e| StoreError::Internal(format!("history details unreadable: {e}")))?,
        })
    }
}

/// The copies of a client's fields that queries filter and match on, and its JSON body.
pub struct ClientColumns {
    pub stage: i64,
    pub status_id: i64,
    pub customer_type_id: Option<i64>,
    pub industry_id: Option<i64>,
    pub headcount_class_id: Option<i64>,
    pub lead_status: &'static str,
    pub external_lead_id: Option<String>,
    pub email_key: Option<String>,
    pub phone_key: Option<String>,
    pub next_call_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub body: String,
}

impl ClientColumns {
    pub fn of(client: &Client) -> Result<Self> {
        let id = client.external_lead_id.trim();
        Ok(ClientColumns {
            stage: client.stage.rank(),
            status_id: client.status_id,
            customer_type_id: client.classifications.customer_type_id,
            industry_id: client.classifications.industry_id,
            headcount_class_id: client.classifications.headcount_class_id,
            lead_status: client.lead_status.name(),
            external_lead_id: (!id.is_empty()).then(|| id.to_string()),
            email_key: client.email_key(),
            phone_key: client.phone_key(),
            next_call_at: client.next_call_at.map(|t| t.timestamp_micros()),
            deleted_at: client.deleted_at.map(|t| t.timestamp_micros()),
            created_at: client.created_at.timestamp_micros(),
            updated_at: client.updated_at.timestamp_micros(),
            body: serde_json::to_string(client)
                .map_err(|e| StoreError::Internal(format!("client not serialisable: {e}")))?,
        })
    }
}

pub fn details_json(details: &std::collections::BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(details)
        .map_err(|e| StoreError::Internal(format!("history details: {e}")))
}

pub fn from_micros(v: i64) -> Result<Timestamp> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| StoreError::Internal(format!("bad time {v}")))
}

/// Stages a list may hold, after the prospect/permanent filter narrows the asked ones.
/// `None` means no stage filter; an empty list means nothing can match.
pub fn stage_filter(stages: &[Stage], permanent: Option<bool>) -> Option<Vec<Stage>> {
    match permanent {
        None if stages.is_empty() => None,
        None => Some(stages.to_vec()),
        Some(p) => Some(
            Stage::ALL
                .into_iter()
                .filter(|s| s.is_permanent() == p && (stages.is_empty() || stages.contains(s)))
                .collect(),
        ),
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct StatusEventRow {
    pub seq: i64,
    pub client_id: i64,
    pub kind: String,
    pub cause: String,
    pub actor: String,
    pub request_id: String,
    pub old_stage: i64,
    pub new_stage: i64,
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub snapshot: String,
    pub old_status_id: i64,
    pub new_status_id: i64,
}

fn stage(rank: i64) -> Result<Stage> {
    Stage::from_rank(rank).ok_or_else(|| StoreError::Internal(format!("bad stage {rank}")))
}

fn snapshot(json: &str, seq: i64) -> Result<Client> {
    let mut client: Client = serde_json::from_str(json)
        .map_err(|e| StoreError::Internal(format!("snapshot of entry {seq} unreadable: {e}")))?;
    client.fill_legacy_status();
    Ok(client)
}

impl TryFrom<StatusEventRow> for StatusEventRecord {
    type Error = StoreError;

    fn try_from(r: StatusEventRow) -> Result<StatusEventRecord> {
        Ok(StatusEventRecord {
            seq: r.seq,
            client_id: r.client_id,
            kind: StatusEvent::from_name(&r.kind)
                .ok_or_else(|| StoreError::Internal(format!("bad event kind {}", r.kind)))?,
            cause: r.cause,
            actor: r.actor,
            request_id: r.request_id,
            old_stage: stage(r.old_stage)?,
            new_stage: stage(r.new_stage)?,
            old_status_id: r.old_status_id,
            new_status_id: r.new_status_id,
            occurred_at: from_micros(r.occurred_at)?,
            recorded_at: from_micros(r.recorded_at)?,
            client: snapshot(&r.snapshot, r.seq)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct AlertRow {
    pub seq: i64,
    pub kind: String,
    pub client_id: i64,
    pub occurrence_key: String,
    pub due_at: i64,
    pub raised_at: i64,
    pub snapshot: String,
}

fn alert_kind(name: &str) -> Result<AlertKind> {
    AlertKind::from_name(name).ok_or_else(|| StoreError::Internal(format!("bad alert kind {name}")))
}

impl TryFrom<AlertRow> for AlertRecord {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<AlertRecord> {
        Ok(AlertRecord {
            seq: r.seq,
            kind: alert_kind(&r.kind)?,
            client_id: r.client_id,
            occurrence_key: r.occurrence_key,
            due_at: from_micros(r.due_at)?,
            raised_at: from_micros(r.raised_at)?,
            client: snapshot(&r.snapshot, r.seq)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct TimerRow {
    pub client_id: i64,
    pub kind: String,
    pub base_at: i64,
    pub occurrence_key: String,
}

impl TimerRow {
    pub fn into_timer(self) -> Result<(i64, Timer)> {
        Ok((
            self.client_id,
            Timer {
                kind: alert_kind(&self.kind)?,
                base_at: from_micros(self.base_at)?,
                occurrence_key: self.occurrence_key,
            },
        ))
    }
}

/// The catalogue's columns, in the order both backends select them.
pub const ENTRY_COLUMNS: &str = "entry_id, kind, stage, name, display_order, color, \
     selectable_for_project, selectable_as_supplier, ended, is_default, status_ids, version, \
     created_at, updated_at";

/// Entries in listing order: kind (in the proto's order), stage, display order, name, id. Sorted
/// here rather than in SQL so both backends agree whatever their collation.
pub fn entries_in_order(rows: Vec<EntryRow>) -> Result<Vec<Entry>> {
    let mut entries = rows
        .into_iter()
        .map(Entry::try_from)
        .collect::<Result<Vec<_>>>()?;
    entries.sort_by(|a, b| {
        (a.kind, a.stage, a.display_order, &a.name, a.entry_id).cmp(&(
            b.kind,
            b.stage,
            b.display_order,
            &b.name,
            b.entry_id,
        ))
    });
    Ok(entries)
}

#[derive(Debug, sqlx::FromRow)]
pub struct EntryRow {
    pub entry_id: i64,
    pub kind: String,
    pub stage: Option<i64>,
    pub name: String,
    pub display_order: i32,
    pub color: String,
    pub selectable_for_project: bool,
    pub selectable_as_supplier: bool,
    pub ended: bool,
    pub is_default: bool,
    pub status_ids: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<EntryRow> for Entry {
    type Error = StoreError;

    fn try_from(r: EntryRow) -> Result<Entry> {
        Ok(Entry {
            entry_id: r.entry_id,
            kind: CatalogKind::from_name(&r.kind)
                .ok_or_else(|| StoreError::Internal(format!("bad catalogue kind {}", r.kind)))?,
            name: r.name,
            display_order: r.display_order,
            stage: r.stage.map(stage).transpose()?,
            color: r.color,
            selectable_for_project: r.selectable_for_project,
            selectable_as_supplier: r.selectable_as_supplier,
            ended: r.ended,
            is_default: r.is_default,
            status_ids: serde_json::from_str(&r.status_ids).map_err(|e| {
                StoreError::Internal(format!(
                    "status ids of entry {} unreadable: {e}",
                    r.entry_id
                ))
            })?,
            version: r.version,
            created_at: from_micros(r.created_at)?,
            updated_at: from_micros(r.updated_at)?,
        })
    }
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

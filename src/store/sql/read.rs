//! The reads, once for both databases, over any [`Conn`] (a pooled reader, or the writer's
//! transaction where a write needs to read).
use crate::domain::{CatalogKind, Client, DomainError, Entry};

use super::super::rows::{
    self, ALERT_COLUMNS, CLIENT_COLUMNS, ENTRY_COLUMNS, HISTORY_COLUMNS, STATUS_EVENT_COLUMNS,
};
use super::super::{
    ActivityCount, ActivityQuery, AlertFilter, AlertRecord, ClientCount, ClientFilter, CountFilter,
    Dimensions, EventFilter, HistoryKey, HistoryRecord, Page, Result, StatusEventRecord,
    StoreError, Stream, StreamBounds,
};
use super::{Conn, Row, Sql, Value};

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn ranks(stages: &[crate::domain::Stage]) -> Value {
    Value::I64List(stages.iter().map(|s| s.rank()).collect())
}

pub async fn client<C: Conn>(c: &mut C, client_id: i64) -> Result<Option<Client>> {
    let q = Sql::new(format!(
        "SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id = $1"
    ))
    .arg(client_id);
    c.fetch_optional(q)
        .await?
        .as_ref()
        .map(rows::client)
        .transpose()
}

pub async fn get_client<C: Conn>(c: &mut C, client_id: i64) -> Result<Client> {
    client(c, client_id)
        .await?
        .ok_or_else(|| DomainError::ClientNotFound { client_id }.into())
}

pub async fn list_clients<C: Conn>(
    c: &mut C,
    filter: &ClientFilter,
    page: Page<i64>,
) -> Result<Vec<Client>> {
    let d = C::DIALECT;
    let mut q = Sql::new(format!(
        "SELECT {CLIENT_COLUMNS} FROM clients c WHERE c.client_id > "
    ));
    q.bind(page.after.unwrap_or(0));
    if !filter.include_deleted {
        q.push(" AND c.deleted_at IS NULL");
    }
    if !filter.include_merged {
        q.push(" AND c.merged_into IS NULL");
    }
    if let Some(stages) = filter.stages_to_match() {
        if stages.is_empty() {
            return Ok(Vec::new());
        }
        q.in_list(d, "c.stage", ranks(&stages));
    }
    if let Some(owner) = &filter.owner {
        q.push(" AND c.owner = ").bind(owner.as_str());
    }
    if let Some(branch) = &filter.branch {
        q.push(" AND c.branch = ").bind(branch.as_str());
    }
    if !filter.lead_statuses.is_empty() {
        let names = filter
            .lead_statuses
            .iter()
            .map(|s| s.name().into())
            .collect();
        q.in_list(d, "c.lead_status", Value::TextList(names));
    }
    if let Some(before) = filter.next_call_due_before {
        let before = before.timestamp_micros();
        if few_due(c, before).await? {
            // Few calls are due: take them from the next-call index and visit only those, in
            // id order. Walking every client in id order to find them would read the whole
            // table when they are rare or all near its end.
            q.push(" AND c.client_id IN (SELECT client_id FROM clients WHERE next_call_at < ")
                .bind(before)
                .push(")");
        } else {
            // Many are due: a walk in id order over the clients with a call (`clients_due`)
            // meets them soon enough; collecting them all first would cost more than the page.
            q.push(" AND c.next_call_at < ").bind(before);
        }
    }
    match &filter.status_ids {
        Some(ids) if ids.is_empty() => return Ok(Vec::new()),
        Some(ids) => {
            q.in_list(d, "c.status_id", Value::I64List(ids.clone()));
        }
        None if filter.hides_ended() => {
            q.push(
                " AND c.status_id NOT IN \
                 (SELECT entry_id FROM catalog WHERE kind = 'STATUS' AND ended = TRUE)",
            );
        }
        None => {}
    }
    if !filter.customer_type_ids.is_empty() {
        q.in_list(
            d,
            "c.customer_type_id",
            Value::I64List(filter.customer_type_ids.clone()),
        );
    }
    // Which index serves the page depends on the values (how many clients hold this status,
    // this owner…): plan it for them each time.
    q.push(" ORDER BY c.client_id LIMIT ")
        .bind(page.limit)
        .one_off();
    c.fetch_all(q).await?.iter().map(rows::client).collect()
}

/// At most this many due calls are collected from the next-call index for one page.
const FEW_DUE: i64 = 5_000;

/// Whether at most `FEW_DUE` clients have a next call before `before` (counted on the
/// next-call index, stopping past the bound).
async fn few_due<C: Conn>(c: &mut C, before: i64) -> Result<bool> {
    let q = Sql::new(
        "SELECT count(*) AS n FROM \
         (SELECT 1 FROM clients WHERE next_call_at < $1 LIMIT $2) due",
    )
    .arg(before)
    .arg(FEW_DUE + 1);
    Ok(c.fetch_one(q).await?.i64("n")? <= FEW_DUE)
}

pub async fn count_clients<C: Conn>(
    c: &mut C,
    filter: &CountFilter,
    dims: Dimensions,
) -> Result<Vec<ClientCount>> {
    let mut q = Sql::new(format!(
        // A merged client is a duplicate of its survivor: counted once, as the survivor.
        "SELECT {}, count(*) AS n FROM clients c WHERE c.merged_into IS NULL",
        dims.select_list()
    ));
    if !filter.include_deleted {
        q.push(" AND c.deleted_at IS NULL");
    }
    if !filter.stages.is_empty() {
        q.in_list(C::DIALECT, "c.stage", ranks(&filter.stages));
    }
    if let Some(owner) = &filter.owner {
        q.push(" AND c.owner = ").bind(owner.as_str());
    }
    if let Some(branch) = &filter.branch {
        q.push(" AND c.branch = ").bind(branch.as_str());
    }
    q.push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    c.fetch_all(q)
        .await?
        .iter()
        .map(|r| {
            Ok(ClientCount {
                stage: if dims.stage {
                    Some(rows::stage(r.i64("stage")?)?)
                } else {
                    None
                },
                status_id: dims.status.then(|| r.i64("status_id")).transpose()?,
                owner: dims.owner.then(|| r.text("owner")).transpose()?,
                count: r.i64("n")?,
            })
        })
        .collect()
}

pub async fn count_activities<C: Conn>(
    c: &mut C,
    query: &ActivityQuery,
) -> Result<Vec<ActivityCount>> {
    let offset = i64::from(query.utc_offset_minutes) * 60_000_000;
    // Days by floor division: SQL's `/` truncates towards zero, which would put times before
    // 1970 on the wrong day. With t the shifted time, t - ((t % d) + d) % d is t rounded down
    // to a whole day.
    let mut q = Sql::new("SELECT actor, ((occurred_at + ");
    q.bind(offset).push(") - (((occurred_at + ");
    q.bind(offset)
        .push(&format!(
            ") % {D}) + {D}) % {D}) / {D} AS day, cause, count(*) AS n FROM history",
            D = MICROS_PER_DAY
        ))
        .push(" WHERE occurred_at >= ")
        .bind(query.from.timestamp_micros())
        .push(" AND occurred_at < ")
        .bind(query.to.timestamp_micros());
    if let Some(actor) = &query.actor {
        q.push(" AND actor = ").bind(actor.as_str());
    }
    if !query.causes.is_empty() {
        q.in_list(C::DIALECT, "cause", Value::TextList(query.causes.clone()));
    }
    q.push(" GROUP BY actor, day, cause ORDER BY day, actor, cause");
    c.fetch_all(q)
        .await?
        .iter()
        .map(|r| {
            let day = r.i64("day")?;
            Ok(ActivityCount {
                actor: r.text("actor")?,
                day: chrono::DateTime::from_timestamp(day * 86_400, 0)
                    .ok_or_else(|| StoreError::internal(format!("bad day {day}")))?
                    .date_naive(),
                cause: r.text("cause")?,
                count: r.i64("n")?,
            })
        })
        .collect()
}

/// Catalogue entries of these kinds, in listing order.
pub async fn entries<C: Conn>(c: &mut C, kinds: &[CatalogKind]) -> Result<Vec<Entry>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(format!("SELECT {ENTRY_COLUMNS} FROM catalog WHERE 1 = 1"));
    q.in_list(
        C::DIALECT,
        "kind",
        Value::TextList(kinds.iter().map(|k| k.name().into()).collect()),
    );
    let entries = c
        .fetch_all(q)
        .await?
        .iter()
        .map(rows::entry)
        .collect::<Result<Vec<_>>>()?;
    Ok(rows::entries_in_order(entries))
}

pub async fn history<C: Conn>(
    c: &mut C,
    client_id: i64,
    page: Page<HistoryKey>,
) -> Result<Vec<HistoryRecord>> {
    timeline(c, client_id, page, false).await
}

/// A survivor's timeline with the entries of the clients merged into it.
pub async fn history_with_merged<C: Conn>(
    c: &mut C,
    client_id: i64,
    page: Page<HistoryKey>,
) -> Result<Vec<HistoryRecord>> {
    timeline(c, client_id, page, true).await
}

async fn timeline<C: Conn>(
    c: &mut C,
    client_id: i64,
    page: Page<HistoryKey>,
    with_merged: bool,
) -> Result<Vec<HistoryRecord>> {
    let exists = c
        .fetch_optional(
            Sql::new("SELECT client_id FROM clients WHERE client_id = $1").arg(client_id),
        )
        .await?;
    if exists.is_none() {
        return Err(DomainError::ClientNotFound { client_id }.into());
    }
    let (after_at, after_id) = page
        .after
        .map_or((i64::MIN, i64::MIN), |(at, id)| (at.timestamp_micros(), id));
    let q = Sql::new(format!(
        "SELECT {HISTORY_COLUMNS} FROM history \
         WHERE client_id {} AND (occurred_at, entry_id) > ($2, $3) \
         ORDER BY occurred_at, entry_id LIMIT $4",
        if with_merged {
            "IN (SELECT CAST($1 AS BIGINT) UNION ALL \
             SELECT client_id FROM clients WHERE merged_into = $1)"
        } else {
            "= $1"
        }
    ))
    .arg(client_id)
    .arg(after_at)
    .arg(after_id)
    .arg(page.limit);
    c.fetch_all(q).await?.iter().map(rows::history).collect()
}

pub async fn status_events<C: Conn>(
    c: &mut C,
    after: i64,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<StatusEventRecord>> {
    let d = C::DIALECT;
    let mut q = Sql::new(format!(
        "SELECT {STATUS_EVENT_COLUMNS} FROM status_events WHERE seq > "
    ));
    q.bind(after);
    if !filter.new_stages.is_empty() {
        q.in_list(d, "new_stage", ranks(&filter.new_stages));
    }
    if !filter.causes.is_empty() {
        q.in_list(d, "cause", Value::TextList(filter.causes.clone()));
    }
    if !filter.client_ids.is_empty() {
        q.in_list(d, "client_id", Value::I64List(filter.client_ids.clone()));
    }
    q.push(" ORDER BY seq LIMIT ").bind(limit);
    c.fetch_all(q)
        .await?
        .iter()
        .map(rows::status_event)
        .collect()
}

pub async fn alerts<C: Conn>(
    c: &mut C,
    after: i64,
    filter: &AlertFilter,
    limit: i64,
) -> Result<Vec<AlertRecord>> {
    let d = C::DIALECT;
    let mut q = Sql::new(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE seq > "));
    q.bind(after);
    if !filter.kinds.is_empty() {
        let names = filter.kinds.iter().map(|k| k.name().into()).collect();
        q.in_list(d, "kind", Value::TextList(names));
    }
    if !filter.client_ids.is_empty() {
        q.in_list(d, "client_id", Value::I64List(filter.client_ids.clone()));
    }
    q.push(" ORDER BY seq LIMIT ").bind(limit);
    c.fetch_all(q).await?.iter().map(rows::alert).collect()
}

pub async fn stream_bounds<C: Conn>(c: &mut C, stream: Stream) -> Result<StreamBounds> {
    let row = c
        .fetch_one(
            Sql::new("SELECT pruned_through, last_seq FROM stream_heads WHERE stream = $1")
                .arg(stream.name()),
        )
        .await?;
    Ok(StreamBounds {
        pruned_through: row.i64("pruned_through")?,
        last_seq: row.i64("last_seq")?,
    })
}

//! Seeding in SQL, with the server stopped: every seeded row is a copy of a row the service
//! wrote itself for a template client created through the API, so it is in exactly the
//! service's format. Only what must differ is changed:
//!
//! - `clients`: every column copied from the template except `client_id` (new numbers after the
//!   highest), `email_key`, `phone_key`, `external_lead_id` (unique per copy, so lead matching
//!   never finds a copy by accident) and `next_call_at` (spread over 60 days from 12 hours ago,
//!   where the template has one); `body` gets the same values (`client_id`, `email`, `phone`,
//!   `external_lead_id`, `next_call_at`). Owner, stage, status, lead status and customer type
//!   are the template's, so their mix is the templates' mix.
//! - `status_events`: the templates' events copied for the first copies, numbered on from the
//!   stream's head without gaps (`seq`), with the copy's `client_id`, a unique `request_id` and
//!   the snapshot's identity fields as in the copy; `stream_heads.last_seq` moved to the end.
//! - `history` (only with `--history-per-client`): the template's whole timeline for every
//!   copy, with the copy's `client_id` and a unique `request_id` (`entry_id` numbered by the
//!   database).
//!
//! Nothing else is copied: no alert timers (so no alert fires for a copy), no business
//! documents, no stored request answers. Secondary indexes of the tables filled are dropped
//! before the load and built again after it.
mod dialect;
pub mod visits;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::Result;
use crate::db::{Backend, BenchDb};
use crate::report::{Figure, count, megabytes};
use dialect::Conn;

/// Rows inserted per statement.
const CHUNK: i64 = 100_000;
/// Copies' next calls: spread over 60 days, the first 12 hours of them already due.
const NEXT_CALL_SPAN: i64 = 60 * 86_400;
const NEXT_CALL_DUE: i64 = 12 * 3_600;

pub struct Plan {
    pub templates: Vec<i64>,
    /// Clients the database holds afterwards.
    pub clients: u64,
    /// Status events the stream holds afterwards (when there are enough copies to give them).
    pub events: u64,
    pub with_history: bool,
}

pub struct Seeded {
    /// Client numbers of the copies, `first..=last`.
    pub first: i64,
    pub last: i64,
    pub events: u64,
    pub history: u64,
    pub seconds: f64,
    pub bytes: u64,
    /// When the copies' next calls start being due (seconds since the epoch).
    pub now: i64,
}

impl Seeded {
    pub fn copies(&self) -> u64 {
        u64::try_from(self.last - self.first + 1).unwrap_or_default()
    }

    pub fn figure(&self, backend: Backend) -> Figure {
        let rate = self.copies() as f64 / self.seconds.max(1e-9);
        let mut f = Figure::value(
            &format!(
                "seed {} clients in SQL (copies of API-made templates)",
                count(self.copies() as f64)
            ),
            backend,
            format!(
                "+{} events, +{} history; {:.1} s; database {}",
                count(self.events as f64),
                count(self.history as f64),
                self.seconds,
                megabytes(self.bytes)
            ),
            None,
        );
        f.rate = Some(rate);
        f
    }
}

/// The newest sequence of the status stream.
pub async fn stream_head(db: &BenchDb) -> Result<i64> {
    let mut conn = Conn::open(db).await?;
    conn.integer("SELECT last_seq FROM stream_heads WHERE stream = 'status'")
        .await
}

pub async fn seed(db: &BenchDb, plan: &Plan) -> Result<Seeded> {
    let started = Instant::now();
    let mut conn = Conn::open(db).await?;
    conn.bulk_mode().await?;
    let existing = u64::try_from(conn.integer("SELECT count(*) FROM clients").await?)?;
    let base = conn.integer("SELECT max(client_id) FROM clients").await?;
    let copies = i64::try_from(plan.clients.saturating_sub(existing))?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let t = i64::try_from(plan.templates.len())?;
    if t == 0 {
        return Err("no templates to copy".into());
    }
    conn.execute(
        "CREATE TEMP TABLE bench_templates (idx BIGINT PRIMARY KEY, client_id BIGINT NOT NULL)",
    )
    .await?;
    let rows: Vec<String> = plan
        .templates
        .iter()
        .enumerate()
        .map(|(i, id)| format!("({i}, {id})"))
        .collect();
    conn.execute(&format!(
        "INSERT INTO bench_templates (idx, client_id) VALUES {}",
        rows.join(", ")
    ))
    .await?;
    println!(
        "seeding {} clients in SQL ({} already there, copies of {t} templates)...",
        count(copies as f64),
        count(existing as f64)
    );
    let copy = Copy {
        base,
        templates: t,
        now,
    };
    let mut tables = vec!["clients"];
    without_indexes(&mut conn, "clients", async |conn: &mut Conn| {
        for lo in (1..=copies).step_by(CHUNK as usize) {
            let hi = (lo + CHUNK - 1).min(copies);
            let sql = copy.clients(conn, lo, hi).await?;
            conn.execute(&sql).await?;
        }
        Ok(())
    })
    .await?;
    conn.advance_client_numbers().await?;
    println!(
        "    clients done after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let events = copy.events(&mut conn, copies, plan.events).await?;
    if events > 0 {
        tables.push("status_events");
    }
    let mut history = 0;
    if plan.with_history && copies > 0 {
        tables.push("history");
        without_indexes(&mut conn, "history", async |conn: &mut Conn| {
            for lo in (1..=copies).step_by(CHUNK as usize) {
                let hi = (lo + CHUNK - 1).min(copies);
                let sql = copy.history(conn, lo, hi).await?;
                history += conn.execute(&sql).await?;
            }
            Ok(())
        })
        .await?;
    }
    conn.execute("DROP TABLE bench_templates").await?;
    conn.finish(&tables).await?;
    drop(conn);
    let seeded = Seeded {
        first: base + 1,
        last: base + copies,
        events,
        history,
        seconds: started.elapsed().as_secs_f64(),
        bytes: db.size().await?,
        now,
    };
    println!(
        "seeded {} clients, {} status events, {} history entries in {:.1} s ({} clients/s); database {}",
        count(seeded.copies() as f64),
        count(events as f64),
        count(history as f64),
        seeded.seconds,
        count(seeded.copies() as f64 / seeded.seconds.max(1e-9)),
        megabytes(seeded.bytes)
    );
    Ok(seeded)
}

/// Runs `load` with the table's secondary indexes dropped, then builds them again (one sort
/// per index instead of a million random inserts into each).
async fn without_indexes(
    conn: &mut Conn,
    table: &str,
    load: impl AsyncFnOnce(&mut Conn) -> Result<()>,
) -> Result<()> {
    let indexes = conn.secondary_indexes(table).await?;
    for (name, _) in &indexes {
        conn.execute(&format!("DROP INDEX {name}")).await?;
    }
    let loaded = load(conn).await;
    let started = Instant::now();
    for (_, definition) in &indexes {
        conn.execute(definition).await?;
    }
    println!(
        "    {} indexes of {table} built again in {:.1} s",
        indexes.len(),
        started.elapsed().as_secs_f64()
    );
    loaded
}

/// The copy statements. Copy `i` (from 1) is client `base + i`, of template `i % templates`.
struct Copy {
    base: i64,
    templates: i64,
    now: i64,
}

impl Copy {
    fn id(&self, i: &str) -> String {
        format!("({} + {i})", self.base)
    }

    /// The identity values a copy gets, in its columns and in its JSON (body, snapshots).
    /// Every template has an external lead id, so every copy gets one of its own.
    fn identity(&self, i: &str) -> Vec<(&'static str, String)> {
        let id = self.id(i);
        vec![
            ("client_id", id.clone()),
            (
                "email",
                format!("'seed' || {id} || '@clones.bench.example'"),
            ),
            ("phone", format!("'+9725' || {id}")),
            ("external_lead_id", format!("'seed-' || {id}")),
        ]
    }

    async fn clients(&self, conn: &mut Conn, lo: i64, hi: i64) -> Result<String> {
        let id = self.id("n.i");
        let seconds = format!(
            "({} + (n.i * 7919) % {NEXT_CALL_SPAN} - {NEXT_CALL_DUE})",
            self.now
        );
        let next_call =
            |value: String| format!("CASE WHEN t.next_call_at IS NULL THEN NULL ELSE {value} END");
        let mut body = self.identity("n.i");
        body.push(("next_call_at", next_call(conn.rfc3339(&seconds))));
        let mut set = vec![
            ("client_id", id.clone()),
            ("external_lead_id", format!("'seed-' || {id}")),
            (
                "email_key",
                format!("'seed' || {id} || '@clones.bench.example'"),
            ),
            ("phone_key", format!("'9725' || {id}")),
            ("next_call_at", next_call(format!("{seconds} * 1000000"))),
        ];
        set.push(("body", conn.json_set("t.body", &body)));
        let columns = conn.columns("clients").await?;
        let (names, values) = select_list(&columns, &set, "t", &[]);
        Ok(format!(
            "INSERT INTO clients ({names}) {} SELECT {values} FROM {} \
             JOIN bench_templates b ON b.idx = n.i % {} JOIN clients t ON t.client_id = b.client_id",
            conn.overriding(),
            conn.numbers(lo, hi),
            self.templates
        ))
    }

    /// Copies the templates' status events for copies 1, 2… until the stream holds `target`.
    async fn events(&self, conn: &mut Conn, copies: i64, target: u64) -> Result<u64> {
        let head = conn
            .integer("SELECT last_seq FROM stream_heads WHERE stream = 'status'")
            .await?;
        let wanted = i64::try_from(target)?.saturating_sub(head);
        let per_round = conn
            .integer(
                "SELECT count(*) FROM status_events e \
                 JOIN bench_templates b ON b.client_id = e.client_id",
            )
            .await?;
        if wanted <= 0 || per_round == 0 || copies == 0 {
            return Ok(0);
        }
        // Enough copies to give `wanted` events: each round of `templates` copies gives `per_round`.
        let rounds = wanted / per_round + 1;
        let upto = (rounds * self.templates).min(copies);
        let snapshot = self.identity("e.copy_i");
        let set = [
            ("seq", format!("{head} + e.copy_r")),
            ("client_id", self.id("e.copy_i")),
            (
                "request_id",
                format!("e.request_id || '-' || {}", self.id("e.copy_i")),
            ),
            ("snapshot", conn.json_set("e.snapshot", &snapshot)),
        ];
        let columns = conn.columns("status_events").await?;
        let (names, values) = select_list(&columns, &set, "e", &[]);
        let sql = format!(
            "INSERT INTO status_events ({names}) SELECT {values} FROM \
             (SELECT n.i AS copy_i, row_number() OVER (ORDER BY n.i, s.seq) AS copy_r, s.* \
              FROM {} JOIN bench_templates b ON b.idx = n.i % {} \
              JOIN status_events s ON s.client_id = b.client_id) AS e \
             WHERE e.copy_r <= {wanted}",
            conn.numbers(1, upto),
            self.templates
        );
        let events = conn.execute(&sql).await?;
        conn.execute(
            "UPDATE stream_heads SET last_seq = (SELECT max(seq) FROM status_events) \
             WHERE stream = 'status'",
        )
        .await?;
        Ok(events)
    }

    /// Every copy in `lo..=hi` gets its template's timeline.
    async fn history(&self, conn: &mut Conn, lo: i64, hi: i64) -> Result<String> {
        let set = [
            ("client_id", self.id("n.i")),
            (
                "request_id",
                format!("h.request_id || '-' || {}", self.id("n.i")),
            ),
        ];
        let columns = conn.columns("history").await?;
        let (names, values) = select_list(&columns, &set, "h", &["entry_id"]);
        Ok(format!(
            "INSERT INTO history ({names}) SELECT {values} FROM {} \
             JOIN bench_templates b ON b.idx = n.i % {} JOIN history h ON h.client_id = b.client_id \
             ORDER BY n.i, h.entry_id",
            conn.numbers(lo, hi),
            self.templates
        ))
    }
}

/// The column list and the matching select list: `set` values where given, the copied row's
/// (`from`) column otherwise, so a column added to the schema later is copied as it is.
fn select_list(
    columns: &[String],
    set: &[(&str, String)],
    from: &str,
    skip: &[&str],
) -> (String, String) {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for c in columns.iter().filter(|c| !skip.contains(&c.as_str())) {
        names.push(c.clone());
        values.push(match set.iter().find(|(k, _)| k == c) {
            Some((_, v)) => v.clone(),
            None => format!("{from}.{c}"),
        });
    }
    (names.join(", "), values.join(", "))
}

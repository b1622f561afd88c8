//! The stage timeline's report rows at scale, in SQL, with the server stopped: a synthetic
//! path for every seeded client (the copies' own histories all happened within the minute the
//! templates were made, so they say nothing about a year of reports).
//!
//! Client `i` starts in NEW at a time spread evenly over the three years before now and follows
//! one of seven paths by `i` as far as now (a recent lead has not got far yet): NEW
//! only (30 %), NEW → FOLLOW_UP (15 %), … → NOT_INTERESTED (10 %), … →
//! FOLLOW_UP_MEETING_OR_QUOTE (15 %), … → REAL (20 %), NEW → REAL straight (5 %), … → REAL →
//! REAL_CLUB_OR_CONTRACT (5 %): about 2.5 stays a client. Each stay lasts 1..14, 1..30, 1..45
//! and 5..64 days by step. Owners `owner-0..15`, branches `branch-0..7`, four record sources.
//! `stage_firsts` is then derived from the visits by the rule the service keeps.
use std::time::Instant;

use super::dialect::Conn;
use super::{CHUNK, without_indexes};
use crate::Result;
use crate::db::BenchDb;

const DAY: i64 = 86_400_000_000;
/// Days over which paths start, ending now.
const START_SPAN_DAYS: i64 = 3 * 365;

pub struct SeededVisits {
    pub visits: u64,
    pub firsts: u64,
    pub seconds: f64,
}

/// The visits of clients `lo..=hi`.
fn visits_sql(conn: &Conn, lo: i64, hi: i64, now_micros: i64) -> String {
    let start = now_micros - 3 * 365 * DAY;
    // Path class r (0..99), the path's length n, and the stage at each step.
    let p = format!(
        "SELECT i AS client_id, (i * 48271) % 100 AS r, \
           {start} + ((i * 7919) % {START_SPAN_DAYS}) * {DAY} + ((i * 104729) % 86400) * 1000000 AS e0, \
           (1 + (i * 31) % 14) * {DAY} + ((i * 13) % 24) * 3600000000 AS d1, \
           (1 + (i * 37) % 30) * {DAY} AS d2, (1 + (i * 41) % 45) * {DAY} AS d3, \
           (5 + (i * 43) % 60) * {DAY} AS d4, \
           'owner-' || CAST(i % 16 AS TEXT) AS owner, 'branch-' || CAST(i % 8 AS TEXT) AS branch, \
           CASE i % 4 WHEN 0 THEN 'web' WHEN 1 THEN 'phone' WHEN 2 THEN 'import' \
                ELSE 'partner' END AS record_source \
         FROM {}",
        conn.numbers(lo, hi)
    );
    let n = "CASE WHEN r < 30 THEN 1 WHEN r < 45 THEN 2 WHEN r < 70 THEN 3 WHEN r < 90 THEN 4 \
             WHEN r < 95 THEN 2 ELSE 5 END";
    let stage = [
        "0".to_string(),
        "CASE WHEN r >= 90 AND r < 95 THEN 4 ELSE 1 END".to_string(),
        "CASE WHEN r < 55 THEN 3 ELSE 2 END".to_string(),
        "4".to_string(),
        "5".to_string(),
    ];
    let entered = [
        "e0",
        "e0 + d1",
        "e0 + d1 + d2",
        "e0 + d1 + d2 + d3",
        "e0 + d1 + d2 + d3 + d4",
    ];
    let steps: Vec<String> = (0..5)
        .map(|k| {
            // The next step ends this stay if the path goes on and it has happened by now.
            let left = if k < 4 {
                format!(
                    "CASE WHEN n > {} AND {} <= {now_micros} THEN {} END",
                    k + 1,
                    entered[k + 1],
                    entered[k + 1]
                )
            } else {
                "NULL".to_string()
            };
            format!(
                "SELECT {stage} AS stage, {e} AS entered_at, client_id, {k} AS seq, \
                 {left} AS left_at, owner, branch, record_source FROM q \
                 WHERE n > {k} AND {e} <= {now_micros}",
                stage = stage[k],
                e = entered[k],
            )
        })
        .collect();
    format!(
        "INSERT INTO stage_visits (stage, entered_at, client_id, seq, left_at, owner, branch, \
         record_source, state) \
         WITH p AS ({p}), q AS (SELECT p.*, {n} AS n FROM p) \
         SELECT stage, entered_at, client_id, seq, left_at, owner, branch, record_source, 0 \
         FROM ({}) AS v",
        steps.join(" UNION ALL ")
    )
}

/// Every synthetic path enters each stage at most once: every visit is a first entry, and
/// `reached_N` is the earliest entry at or after it into a stage that counts for rank N.
const FIRSTS: &str = "INSERT INTO stage_firsts (stage, entered_at, client_id, reached_0, \
     reached_1, reached_2, reached_3, reached_4, reached_5, reached_6, owner, branch, \
     record_source, state) \
     SELECT v.stage, v.entered_at, v.client_id, \
       min(CASE WHEN w.stage <> 3 THEN w.entered_at END), \
       min(CASE WHEN w.stage IN (1, 2, 4, 5, 6) THEN w.entered_at END), \
       min(CASE WHEN w.stage IN (2, 4, 5, 6) THEN w.entered_at END), \
       min(CASE WHEN w.stage = 3 THEN w.entered_at END), \
       min(CASE WHEN w.stage IN (4, 5, 6) THEN w.entered_at END), \
       min(CASE WHEN w.stage = 5 THEN w.entered_at END), \
       min(CASE WHEN w.stage = 6 THEN w.entered_at END), \
       v.owner, v.branch, v.record_source, v.state \
     FROM stage_visits v JOIN stage_visits w \
       ON w.client_id = v.client_id AND w.entered_at >= v.entered_at \
     WHERE v.client_id BETWEEN {lo} AND {hi} \
     GROUP BY v.stage, v.entered_at, v.client_id, v.owner, v.branch, v.record_source, v.state";

/// Replaces the report rows of clients `first..=last` with synthetic paths ending before
/// `now_micros`.
pub async fn seed(db: &BenchDb, first: i64, last: i64, now_micros: i64) -> Result<SeededVisits> {
    let started = Instant::now();
    let mut conn = Conn::open(db).await?;
    conn.bulk_mode().await?;
    for table in ["stage_firsts", "stage_visits"] {
        conn.execute(&format!(
            "DELETE FROM {table} WHERE client_id BETWEEN {first} AND {last}"
        ))
        .await?;
    }
    let mut visits = 0;
    without_indexes(&mut conn, "stage_visits", async |conn: &mut Conn| {
        for lo in (first..=last).step_by(CHUNK as usize) {
            let hi = (lo + CHUNK - 1).min(last);
            visits += conn.execute(&visits_sql(conn, lo, hi, now_micros)).await?;
        }
        Ok(())
    })
    .await?;
    println!(
        "    {visits} visits after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut firsts = 0;
    without_indexes(&mut conn, "stage_firsts", async |conn: &mut Conn| {
        for lo in (first..=last).step_by(CHUNK as usize) {
            let hi = (lo + CHUNK - 1).min(last);
            let sql = FIRSTS
                .replace("{lo}", &lo.to_string())
                .replace("{hi}", &hi.to_string());
            firsts += conn.execute(&sql).await?;
        }
        Ok(())
    })
    .await?;
    conn.finish(&["stage_visits", "stage_firsts"]).await?;
    Ok(SeededVisits {
        visits,
        firsts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

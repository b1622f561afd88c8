//! The stage timeline's reports, once for both databases, over the rows every write keeps
//! (`stage_visits`: every stay in a stage; `stage_firsts`: each client's first entry into each
//! stage with when it next reached each other). Each report reads one range of
//! `(stage, entered_at)` per stage and aggregates in the database. Percentiles are Postgres'
//! own aggregate there; on SQLite, the two values around each rank, found by a window.
use std::collections::BTreeMap;

use crate::domain::Stage;

use super::super::rows::stage;
use super::super::timeline::{
    Bucket, ConversionCount, ConversionQuery, EntriesQuery, EntryCount, Spread, StageStay,
    StayQuery, TimelineScope,
};
use super::super::{Result, StoreError};
use super::{Conn, Dialect, Row, Sql};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `stage IN (…)`, written out: the ranks are the enum's, and a literal list lets both
/// planners read one index range per stage.
fn stages_in(stages: &[Stage]) -> String {
    let list = if stages.is_empty() {
        &Stage::ALL[..]
    } else {
        stages
    };
    let ranks: Vec<String> = list.iter().map(|s| s.rank().to_string()).collect();
    format!("stage IN ({})", ranks.join(", "))
}

/// The period and which clients: `entered_at` in [$2, $3), state at most $4. Planned for
/// these values each time: whether a period is a sliver or most of the table decides between
/// an index range and a scan, which one generic plan for every period would get wrong.
fn scope_args(q: Sql, scope: &TimelineScope) -> Sql {
    let mut q = q
        .arg(scope.from.timestamp_micros())
        .arg(scope.to.timestamp_micros())
        .arg(if scope.include_deleted { 1i64 } else { 0 });
    q.one_off();
    q
}

const SCOPE: &str = "entered_at >= $2 AND entered_at < $3 AND state <= $4";

pub async fn stage_conversion<C: Conn>(
    c: &mut C,
    query: &ConversionQuery,
) -> Result<Vec<ConversionCount>> {
    let reached = format!("reached_{}", query.to_stage.rank());
    let within = query
        .within
        .map_or(-1, |w| w.num_microseconds().unwrap_or(i64::MAX));
    let q = Sql::new(format!(
        "SELECT {g} AS grp, count(*) AS entered, count({reached}) AS reached, \
         sum(CASE WHEN {reached} - entered_at <= $5 THEN 1 ELSE 0 END) AS reached_within \
         FROM stage_firsts WHERE stage = $1 AND {SCOPE} GROUP BY 1 ORDER BY 1",
        g = query.scope.group.column(),
    ))
    .arg(query.from_stage.rank());
    let q = scope_args(q, &query.scope).arg(within);
    c.fetch_all(q)
        .await?
        .iter()
        .map(|r| {
            Ok(ConversionCount {
                group: r.text("grp")?,
                entered: r.i64("entered")?,
                reached: r.i64("reached")?,
                reached_within: if query.within.is_some() {
                    r.i64("reached_within")?
                } else {
                    0
                },
            })
        })
        .collect()
}

/// The 1-based ranks around the percentile `tenths`/10 of `n` sorted values, and how far
/// between them it falls; in integers, as the query computes the same ranks.
fn around(n: i64, tenths: i64) -> (i64, i64, f64) {
    let pos = tenths * (n - 1);
    (pos / 10 + 1, (pos + 9) / 10 + 1, (pos % 10) as f64 / 10.0)
}

fn spread(n: i64, values: &BTreeMap<i64, i64>) -> Result<Spread> {
    let at = |tenths: i64| -> Result<f64> {
        let (lo, hi, frac) = around(n, tenths);
        let value = |rank: i64| {
            values
                .get(&rank)
                .map(|v| (*v).max(0) as f64)
                .ok_or_else(|| StoreError::internal(format!("rank {rank} of {n} missing")))
        };
        let (a, b) = (value(lo)?, value(hi)?);
        Ok(a + (b - a) * frac)
    };
    Ok(Spread {
        count: n,
        median: at(5)?,
        p90: at(9)?,
    })
}

/// The stays of the query, as `d(stage, grp, still_in, dur)`: each visit that began in the
/// period, its length (or, still open, how long so far at `as_of`, `$1`).
fn stays(query: &StayQuery) -> String {
    format!(
        "SELECT stage, {g} AS grp, \
                CAST(CASE WHEN left_at IS NULL THEN 1 ELSE 0 END AS BIGINT) AS still_in, \
                coalesce(left_at, $1) - entered_at AS dur \
         FROM stage_visits WHERE {stages} AND {SCOPE}",
        g = query.scope.group.column(),
        stages = stages_in(&query.stages),
    )
}

/// Per (stage, group): the spreads of the stays that left, and of those still in.
type Spreads = BTreeMap<(i64, String), [Spread; 2]>;

/// Postgres has the percentile as an aggregate (`percentile_cont`, the same interpolation),
/// one sort per group: about twice as fast as the window below on a year of a million
/// clients. Nanoseconds, so a fraction of a microsecond survives the integer column.
async fn spreads_postgres<C: Conn>(c: &mut C, query: &StayQuery) -> Result<Spreads> {
    let q = Sql::new(format!(
        "SELECT stage, grp, still_in, count(*) AS n, \
           CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY dur) * 1000 AS BIGINT) AS median_ns, \
           CAST(percentile_cont(0.9) WITHIN GROUP (ORDER BY dur) * 1000 AS BIGINT) AS p90_ns \
         FROM ({}) AS d GROUP BY 1, 2, 3",
        stays(query)
    ))
    .arg(query.as_of.timestamp_micros());
    let mut found = Spreads::new();
    for r in c.fetch_all(scope_args(q, &query.scope)).await? {
        let key = (r.i64("stage")?, r.text("grp")?);
        found.entry(key).or_default()[r.i64("still_in")? as usize & 1] = Spread {
            count: r.i64("n")?,
            median: r.i64("median_ns")?.max(0) as f64 / 1e3,
            p90: r.i64("p90_ns")?.max(0) as f64 / 1e3,
        };
    }
    Ok(found)
}

/// SQLite has no percentile aggregate: a window numbers each group's stays by length, and only
/// the rows at the ranks the median and the 90th percentile lie between come back (see
/// `around`, whose integer forms are these). The count is a frame of the same window, so the
/// rows are sorted once (a fifth faster than a second window).
async fn spreads_sqlite<C: Conn>(c: &mut C, query: &StayQuery) -> Result<Spreads> {
    let q = Sql::new(format!(
        "WITH d AS ({}), \
         r AS (\
           SELECT stage, grp, still_in, dur, row_number() OVER w AS rn, \
                  count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n \
           FROM d WINDOW w AS (PARTITION BY stage, grp, still_in ORDER BY dur)) \
         SELECT stage, grp, still_in, n, rn, dur FROM r \
         WHERE rn IN ((n - 1) / 2 + 1, n / 2 + 1, (9 * (n - 1)) / 10 + 1, \
                      (9 * (n - 1) + 9) / 10 + 1)",
        stays(query)
    ))
    .arg(query.as_of.timestamp_micros());
    // (stage, group) → per still_in: (n, rank → duration)
    type Ranks = (i64, BTreeMap<i64, i64>);
    let mut ranks: BTreeMap<(i64, String), [Ranks; 2]> = BTreeMap::new();
    for r in c.fetch_all(scope_args(q, &query.scope)).await? {
        let key = (r.i64("stage")?, r.text("grp")?);
        let slot = &mut ranks.entry(key).or_default()[r.i64("still_in")? as usize & 1];
        slot.0 = r.i64("n")?;
        slot.1.insert(r.i64("rn")?, r.i64("dur")?);
    }
    let of = |(n, values): &Ranks| {
        if *n == 0 {
            Ok(Spread::default())
        } else {
            spread(*n, values)
        }
    };
    ranks
        .into_iter()
        .map(|(key, [left, still])| Ok((key, [of(&left)?, of(&still)?])))
        .collect()
}

pub async fn time_in_stage<C: Conn>(c: &mut C, query: &StayQuery) -> Result<Vec<StageStay>> {
    let found = match C::DIALECT {
        Dialect::Postgres => spreads_postgres(c, query).await?,
        Dialect::Sqlite => spreads_sqlite(c, query).await?,
    };
    found
        .into_iter()
        .map(|((rank, group), [left, still_in])| {
            Ok(StageStay {
                stage: stage(rank)?,
                group,
                left,
                still_in,
            })
        })
        .collect()
}

/// How many connections one TimeInStage report reads on at once: its stages are independent,
/// and on two cores the sort of a year of stays is what takes the time.
const STAY_CONNECTIONS: usize = 2;

/// TimeInStage with its stages shared out over `STAY_CONNECTIONS` connections from `reader`
/// (each takes the next stage in rank order when it is done with one); the answer as
/// [`time_in_stage`] gives it.
pub async fn time_in_stage_side_by_side<C, F, Fut>(
    reader: F,
    query: &StayQuery,
) -> Result<Vec<StageStay>>
where
    C: Conn,
    F: Fn() -> Fut + Sync,
    Fut: std::future::Future<Output = Result<C>> + Send,
{
    let stages = if query.stages.is_empty() {
        Stage::ALL.to_vec()
    } else {
        query.stages.clone()
    };
    let next = std::sync::Mutex::new(stages.into_iter());
    let take = || next.lock().unwrap_or_else(|e| e.into_inner()).next();
    let worker = || async {
        let mut out = Vec::new();
        let mut conn = None;
        while let Some(stage) = take() {
            let c = match &mut conn {
                Some(c) => c,
                None => conn.insert(reader().await?),
            };
            let one = StayQuery {
                stages: vec![stage],
                ..query.clone()
            };
            out.extend(time_in_stage(c, &one).await?);
        }
        Ok::<_, StoreError>(out)
    };
    let mut all = Vec::new();
    let parts = futures_util::future::try_join_all((0..STAY_CONNECTIONS).map(|_| worker())).await?;
    for part in parts {
        all.extend(part);
    }
    all.sort_by(|a, b| (a.stage, &a.group).cmp(&(b.stage, &b.group)));
    Ok(all)
}

pub async fn stage_entries<C: Conn>(c: &mut C, query: &EntriesQuery) -> Result<Vec<EntryCount>> {
    // Days by floor division (see `read::count_activities`), weeks from the Monday before:
    // day 0 (1970-01-01) was a Thursday, three days after a Monday.
    let day = format!(
        "(((entered_at + $1) - (((entered_at + $1) % {D}) + {D}) % {D}) / {D})",
        D = MICROS_PER_DAY
    );
    let bucket = match query.bucket {
        Bucket::Day => day,
        Bucket::Week => format!("({day} - ((({day} + 3) % 7) + 7) % 7)"),
    };
    let table = if query.first_entries_only {
        "stage_firsts"
    } else {
        "stage_visits"
    };
    let q = Sql::new(format!(
        "SELECT stage, {bucket} AS day, {g} AS grp, count(*) AS n FROM {table} \
         WHERE {stages} AND {SCOPE} GROUP BY 1, 2, 3 ORDER BY 2, 1, 3",
        g = query.scope.group.column(),
        stages = stages_in(&query.stages),
    ))
    .arg(i64::from(query.utc_offset_minutes) * 60_000_000);
    let q = scope_args(q, &query.scope);
    c.fetch_all(q)
        .await?
        .iter()
        .map(|r| {
            let day = r.i64("day")?;
            Ok(EntryCount {
                stage: stage(r.i64("stage")?)?,
                day: chrono::DateTime::from_timestamp(day * 86_400, 0)
                    .ok_or_else(|| StoreError::internal(format!("bad day {day}")))?
                    .date_naive(),
                group: r.text("grp")?,
                count: r.i64("n")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spread of `sorted`, through the ranks the query would return.
    fn of(sorted: &[i64]) -> Spread {
        let n = sorted.len() as i64;
        let values = (1..=n).zip(sorted.iter().copied()).collect();
        spread(n, &values).expect("every rank present")
    }

    #[test]
    fn percentiles_interpolate_between_the_two_nearest_ranks() {
        assert_eq!((of(&[7]).median, of(&[7]).p90), (7.0, 7.0));
        assert_eq!(
            of(&[1, 3]).median,
            2.0,
            "an even count: the mean of the middle two"
        );
        assert_eq!(of(&[1, 2, 3]).median, 2.0);
        // 0.9 × 9 = 8.1: a tenth of the way from the 9th value (9) to the 10th (100).
        let v: Vec<i64> = (1..=9).chain([100]).collect();
        assert!((of(&v).p90 - 18.1).abs() < 1e-9, "{}", of(&v).p90);
    }

    #[test]
    fn the_ranks_the_query_returns_are_the_ones_interpolated() {
        for n in 1..50 {
            for p in [5, 9] {
                let (lo, hi, frac) = around(n, p);
                assert!(1 <= lo && lo <= hi && hi <= n && (0.0..1.0).contains(&frac));
                // The query's integer forms of the same ranks.
                let sql = [
                    (n - 1) / 2 + 1,
                    n / 2 + 1,
                    (9 * (n - 1)) / 10 + 1,
                    (9 * (n - 1) + 9) / 10 + 1,
                ];
                assert!(sql.contains(&lo) && sql.contains(&hi), "n={n} p={p}");
            }
        }
    }
}

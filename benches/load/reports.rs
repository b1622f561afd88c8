//! The stage timeline's reports at scale (issue #14): report rows seeded in SQL for every
//! seeded client (`seed::visits`), then each report over the last year, one call at a time,
//! p50/p99 against the target of an answer within a second.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clientstatus::proto::client_report_service_client::ClientReportServiceClient;
use clientstatus::proto::*;

use crate::db::BenchDb;
use crate::drive::{Timing, closed_loop};
use crate::fixtures::timestamp;
use crate::report::{Figure, count, ms};
use crate::seed::{Seeded, visits};
use crate::server::Server;
use crate::{Result, Settings};

/// The target: every report over a year within this.
const TARGET: Duration = Duration::from_secs(1);

type Reports = ClientReportServiceClient<tonic::transport::Channel>;

/// One report call, by name.
type Call = Box<dyn Fn(Reports) -> BoxedCall + Send + Sync>;
type BoxedCall = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::result::Result<usize, tonic::Status>> + Send>,
>;

fn calls(now: SystemTime) -> Vec<(&'static str, Call)> {
    let year = Duration::from_secs(365 * 86_400);
    let (from, to) = (Some(timestamp(now - year)), Some(timestamp(now)));
    let conversion = move |group: TimelineGroup| -> Call {
        Box::new(move |mut r: Reports| {
            Box::pin(async move {
                let a = r
                    .stage_conversion(StageConversionRequest {
                        from,
                        to,
                        from_stage: ClientStage::New as i32,
                        to_stage: ClientStage::Real as i32,
                        within_days: 30,
                        group_by: group as i32,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                Ok(a.total.map_or(0, |t| t.entered as usize))
            })
        })
    };
    let stays = move |group: TimelineGroup| -> Call {
        Box::new(move |mut r: Reports| {
            Box::pin(async move {
                let a = r
                    .time_in_stage(TimeInStageRequest {
                        from,
                        to,
                        group_by: group as i32,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                Ok(a.stages
                    .iter()
                    .map(|s| (s.left + s.still_in) as usize)
                    .sum())
            })
        })
    };
    let entries = move |bucket: TimeBucket, group: TimelineGroup| -> Call {
        Box::new(move |mut r: Reports| {
            Box::pin(async move {
                let a = r
                    .stage_entries(StageEntriesRequest {
                        from,
                        to,
                        utc_offset_minutes: 120,
                        bucket: bucket as i32,
                        group_by: group as i32,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                Ok(a.counts.iter().map(|c| c.count as usize).sum())
            })
        })
    };
    vec![
        (
            "StageConversion NEW→REAL",
            conversion(TimelineGroup::Unspecified),
        ),
        (
            "StageConversion NEW→REAL by owner",
            conversion(TimelineGroup::Owner),
        ),
        ("TimeInStage, all stages", stays(TimelineGroup::Unspecified)),
        (
            "TimeInStage, all stages by owner",
            stays(TimelineGroup::Owner),
        ),
        (
            "StageEntries per day, all stages",
            entries(TimeBucket::Day, TimelineGroup::Unspecified),
        ),
        (
            "StageEntries per week by branch",
            entries(TimeBucket::Week, TimelineGroup::Branch),
        ),
    ]
}

/// Seeds the report rows (server stopped), restarts, and measures each report.
pub async fn run(
    db: &BenchDb,
    settings: &Settings,
    seeded: &Seeded,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let backend = db.backend;
    let now = SystemTime::now();
    let now_micros = i64::try_from(now.duration_since(UNIX_EPOCH)?.as_micros())?;
    println!("seeding the stage timeline's report rows in SQL...");
    let s = visits::seed(db, seeded.first, seeded.last, now_micros).await?;
    let size = count(seeded.copies() as f64);
    let seeded_figure = Figure::value(
        &format!("seed stage timeline rows for {size} clients"),
        backend,
        format!(
            "{} visits, {} first entries; {:.1} s",
            count(s.visits as f64),
            count(s.firsts as f64),
            s.seconds
        ),
        None,
    );
    figures.push(seeded_figure.announce(None));
    let server = Server::start(db).await?;
    let reports = Reports::new(server.channel().await?);
    let timing = Timing {
        warmup: settings.warmup,
        duration: settings.duration.max(Duration::from_secs(2)),
    };
    for (name, call) in calls(now) {
        // One call first: its answer shows the report covers the seeded year.
        let covered = call(reports.clone()).await?;
        let call = std::sync::Arc::new(call);
        let r = reports.clone();
        let s = closed_loop(1, timing, move |_, _| {
            let call = call.clone();
            let r = r.clone();
            async move { call(r).await.map(|_| ()) }
        })
        .await;
        let mut f = Figure::calls(
            &format!("{name}, a year, {size} clients"),
            backend,
            1,
            &s,
            None,
        );
        if let Some(p99) = f.p99 {
            f = f.with_target(format!("p99 < 1 s: {}", ms(p99)), p99 < TARGET);
        }
        figures.push(f.announce(Some(&s)));
        println!("    {} counted in the answer", count(covered as f64));
    }
    server.stop().await?;
    Ok(())
}

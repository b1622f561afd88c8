//! Reads at scale, on the seeded database: filtered ListClients (first page, 50 a page) and
//! GetClient one call at a time, p99 against B0 on the same server; the stream replay; the
//! server's memory afterwards.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use clientstatus::proto::*;

use crate::db::BenchDb;
use crate::drive::{Rng, Timing, closed_loop};
use crate::fixtures::{Fixtures, owner, timestamp};
use crate::report::{Figure, count, megabytes, ms};
use crate::seed::Seeded;
use crate::server::Server;
use crate::unary::{Clients, b0, pick};
use crate::{Result, Settings, streams};

type Filter = Box<dyn Fn(usize) -> ListClientsRequest + Send + Sync>;

/// The filters a dashboard uses, each varied from call to call over its values.
fn filters(fixtures: &Fixtures, seeded: &Seeded) -> Vec<(&'static str, Filter)> {
    use ClientStage::*;
    let page = |r: ListClientsRequest| ListClientsRequest { page_size: 50, ..r };
    let types = fixtures.customer_types.clone();
    let now = UNIX_EPOCH + Duration::from_secs(u64::try_from(seeded.now).unwrap_or_default());
    vec![
        (
            "stage",
            Box::new(move |k| {
                let stage = [New, FollowUp, FollowUpMeetingOrQuote, Real][k % 4];
                page(ListClientsRequest {
                    stages: vec![stage as i32],
                    ..Default::default()
                })
            }),
        ),
        (
            "owner",
            Box::new(move |k| {
                page(ListClientsRequest {
                    owner: owner(k),
                    ..Default::default()
                })
            }),
        ),
        (
            "status",
            Box::new(move |k| {
                // The built-in default statuses: their ids are their stages' values.
                let status = [FollowUp, Real][k % 2] as i64;
                page(ListClientsRequest {
                    status_ids: vec![status],
                    ..Default::default()
                })
            }),
        ),
        (
            "next_call_due_before (0.8%, 2.5%, 12% of callers due)",
            Box::new(move |k| {
                let days = [0, 1, 7][k % 3];
                let before = now + Duration::from_secs(86_400 * days);
                page(ListClientsRequest {
                    next_call_due_before: Some(timestamp(before)),
                    ..Default::default()
                })
            }),
        ),
        (
            "lead status",
            Box::new(move |k| {
                let lead = [LeadStatus::Hot, LeadStatus::RecentlyCreated][k % 2];
                page(ListClientsRequest {
                    lead_statuses: vec![lead as i32],
                    ..Default::default()
                })
            }),
        ),
        (
            "customer type",
            Box::new(move |k| {
                let id = types
                    .get(k % types.len().max(1))
                    .copied()
                    .unwrap_or_default();
                page(ListClientsRequest {
                    customer_type_ids: vec![id],
                    ..Default::default()
                })
            }),
        ),
        (
            "prospects",
            Box::new(move |_| {
                page(ListClientsRequest {
                    kind: ClientKind::Prospect as i32,
                    ..Default::default()
                })
            }),
        ),
        (
            "permanent clients",
            Box::new(move |_| {
                page(ListClientsRequest {
                    kind: ClientKind::Permanent as i32,
                    ..Default::default()
                })
            }),
        ),
        (
            "stage + owner",
            Box::new(move |k| {
                page(ListClientsRequest {
                    stages: vec![FollowUp as i32],
                    owner: owner(k),
                    ..Default::default()
                })
            }),
        ),
    ]
}

pub async fn run(
    server: &Server,
    db: &BenchDb,
    fixtures: &Fixtures,
    settings: &Settings,
    seeded: &Seeded,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let backend = server.backend;
    let timing = Timing {
        warmup: settings.warmup,
        duration: settings.duration,
    };
    let clients = Clients::connect(server, 1).await?;
    let size = count(settings.clients as f64);
    let s = b0(&clients, 1, timing).await;
    let b = s.rate();
    figures.push(
        Figure::calls(
            &format!("B0 Health/Check, {size} clients"),
            backend,
            1,
            &s,
            Some(b),
        )
        .announce(Some(&s)),
    );

    let api = clients.api.clone();
    let (first, last) = (seeded.first, seeded.last.max(seeded.first));
    let s = closed_loop(1, timing, move |w, n| {
        let mut api = pick(&api, w);
        let span = u64::try_from(last - first + 1).unwrap_or(1);
        let client_id = first + i64::try_from(Rng::new(n).below(span)).unwrap_or_default();
        async move {
            api.get_client(GetClientRequest { client_id })
                .await
                .map(|_| ())
        }
    })
    .await;
    figures.push(
        Figure::calls(
            &format!("GetClient, {size} clients"),
            backend,
            1,
            &s,
            Some(b),
        )
        .announce(Some(&s)),
    );

    for (name, filter) in filters(fixtures, seeded) {
        let api = clients.api.clone();
        // Clients listed and pages read, to show each filter fills its pages.
        let listed = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let seen = listed.clone();
        let filter = Arc::new(filter);
        let s = closed_loop(1, timing, move |w, n| {
            let mut api = pick(&api, w);
            let request = filter(n as usize);
            let seen = seen.clone();
            async move {
                let page = api.list_clients(request).await?.into_inner();
                seen[0].fetch_add(page.clients.len() as u64, Ordering::Relaxed);
                seen[1].fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        })
        .await;
        let mut f = Figure::calls(
            &format!("ListClients by {name}, {size} clients"),
            backend,
            1,
            &s,
            Some(b),
        );
        if let Some(p99) = f.p99 {
            f = f.with_target(
                format!("p99 ≤ 10 ms: {}", ms(p99)),
                p99 <= Duration::from_millis(10),
            );
        }
        figures.push(f.announce(Some(&s)));
        let pages = listed[1].load(Ordering::Relaxed).max(1);
        println!(
            "    {:.1} clients a page on average",
            listed[0].load(Ordering::Relaxed) as f64 / pages as f64
        );
    }

    streams::replay(server, db, figures).await?;

    let rss = server.rss()?;
    let f = Figure::value(
        &format!("server RSS after the scale reads, {size} clients"),
        backend,
        format!("≤ 200 MB: {}", megabytes(rss)),
        Some(rss <= 200_000_000),
    );
    figures.push(f.announce(None));
    Ok(())
}

//! The relay with several replicas on one Postgres: exactly one relays at a time, and when it
//! is SIGKILLed another takes over within seconds; JetStream still holds every event once, in
//! order, equal to the gRPC stream.
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::relay::{assert_contiguous, decoded, grpc_events, write_clients};
use crate::relay_support::*;

#[tokio::test]
async fn one_of_three_replicas_relays_and_another_takes_over_when_it_is_killed() {
    let Some(nats) = Nats::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let mut replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::launch(&db.url, &nats.flags()))
        .collect();
    for r in &replicas {
        r.api().await;
    }
    let (leader, _) = one_leader(&replicas, Duration::from_secs(20)).await;
    // And it stays the only one.
    for _ in 0..10 {
        assert_eq!(leaders(&replicas).await, vec![leader]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Some events through the leader, then more through the other two while it is killed.
    write_clients(replicas[leader].api().await, "fo-leader".into(), 10).await;
    let mut writers = Vec::new();
    for (i, r) in replicas.iter().enumerate().filter(|(i, _)| *i != leader) {
        writers.push(tokio::spawn(write_clients(
            r.api().await,
            format!("fo{i}"),
            20,
        )));
    }
    while nats.count().await < 15 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replicas[leader].kill();
    let others: Vec<Replica> = replicas
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| (i != leader).then_some(r))
        .collect();
    let (_, took) = one_leader(&others, Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(10), "takeover took {took:?}");
    for w in writers {
        w.await.expect("writer");
    }
    let events = nats.entries("status", 50, Duration::from_secs(30)).await;
    assert_contiguous(&events, "status", 50);
    let mut api = others[0].api().await;
    assert_eq!(decoded(&events), grpc_events(&mut api, 50).await);
}

async fn leads(replica: &Replica) -> bool {
    replica.metric("clientstatus_relay_leader").await == Some(1.0)
}

/// Which of `replicas` relay now.
async fn leaders(replicas: &[Replica]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, r) in replicas.iter().enumerate() {
        if leads(r).await {
            out.push(i);
        }
    }
    out
}

/// Waits until exactly one replica relays; returns it and how long that took.
async fn one_leader(replicas: &[Replica], within: Duration) -> (usize, Duration) {
    let started = Instant::now();
    loop {
        let now = leaders(replicas).await;
        if now.len() == 1 {
            return (now[0], started.elapsed());
        }
        assert!(
            started.elapsed() < within,
            "after {within:?} the replicas relaying are {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

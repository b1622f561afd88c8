//! Stream fan-out across replicas: each server's hub learns of the other's commits
//! (LISTEN/NOTIFY, with its poll as a backstop), so subscribers on either see one sequence.
use crate::fanout::{churn, clients, next_events, seqs, subscribe};
use crate::helpers::*;

#[tokio::test]
async fn subscribers_on_two_servers_see_the_same_sequence() {
    let mut a = spawn_app().await;
    let mut b = start(a.config.clone(), a.db.clone()).await;
    let on_a = clients(&mut a, 10).await;
    let on_b = clients(&mut b, 10).await;
    let mut readers = Vec::new();
    for i in 0..8 {
        let mut api = if i % 2 == 0 {
            a.api.clone()
        } else {
            b.api.clone()
        };
        let mut stream = subscribe(&mut api, Default::default()).await;
        readers.push(tokio::spawn(
            async move { next_events(&mut stream, 200).await },
        ));
    }
    let (mut api_a, mut api_b) = (a.api.clone(), b.api.clone());
    let writers = [
        tokio::spawn(async move { churn(&mut api_a, &on_a, 5).await }),
        tokio::spawn(async move { churn(&mut api_b, &on_b, 5).await }),
    ];
    for w in writers {
        w.await.expect("writer");
    }
    let mut seen = Vec::new();
    for r in readers {
        seen.push(r.await.expect("reader"));
    }
    assert_eq!(seqs(&seen[0]), (1..=200).collect::<Vec<i64>>());
    for (i, events) in seen.iter().enumerate() {
        assert_eq!(
            events,
            &seen[0],
            "subscriber {i} (server {})",
            ["a", "b"][i % 2]
        );
    }
}

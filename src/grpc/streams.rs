//! StreamStatusChanges and StreamAlerts. Each subscriber gets a task that reads the stream from
//! the database by cursor into a small bounded channel: a slow consumer only ever holds one
//! batch, never slows writers or other consumers, and catches up by reading, not by buffering.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::domain::DomainError;
use crate::proto as pb;
use crate::store::{AlertFilter, EventFilter, Store, StoreError, Stream, StreamBounds};

use super::convert::{
    alert_kind_from_proto, alert_to_proto, stage_from_proto, status_event_to_proto,
};
use super::validate::{Check, SHORT_MAX};

/// Entries read from the database per query.
const BATCH: i64 = 256;
/// Entries queued per subscriber before its task waits for the consumer.
const BUFFER: usize = 64;
/// Subscribers re-read at least this often, even if no wake-up arrives.
const POLL: Duration = Duration::from_secs(1);
/// Most values in one filter list.
const FILTER_MAX: usize = 100;

pub type EventStream<T> = ReceiverStream<Result<T, Status>>;

pub fn event_filter(r: &pb::StreamStatusChangesRequest, c: &mut Check) -> EventFilter {
    let mut filter = EventFilter::default();
    if r.new_stages.len() > FILTER_MAX
        || r.causes.len() > FILTER_MAX
        || r.client_ids.len() > FILTER_MAX
    {
        c.fail("filters", format!("at most {FILTER_MAX} values per filter"));
    }
    for (i, &s) in r.new_stages.iter().enumerate() {
        match pb::ClientStage::try_from(s).ok().and_then(stage_from_proto) {
            Some(stage) => filter.new_stages.push(stage),
            None => c.fail(&format!("new_stages[{i}]"), format!("{s} is not a stage")),
        }
    }
    for (i, cause) in r.causes.iter().enumerate() {
        filter
            .causes
            .push(c.line(&format!("causes[{i}]"), cause, SHORT_MAX, true));
    }
    for (i, &id) in r.client_ids.iter().enumerate() {
        filter
            .client_ids
            .push(c.client_id(&format!("client_ids[{i}]"), id));
    }
    filter
}

pub fn alert_filter(r: &pb::StreamAlertsRequest, c: &mut Check) -> AlertFilter {
    let mut filter = AlertFilter::default();
    if r.kinds.len() > FILTER_MAX || r.client_ids.len() > FILTER_MAX {
        c.fail("filters", format!("at most {FILTER_MAX} values per filter"));
    }
    for (i, &k) in r.kinds.iter().enumerate() {
        match pb::AlertKind::try_from(k)
            .ok()
            .and_then(alert_kind_from_proto)
        {
            Some(kind) => filter.kinds.push(kind),
            None => c.fail(&format!("kinds[{i}]"), format!("{k} is not an alert kind")),
        }
    }
    for (i, &id) in r.client_ids.iter().enumerate() {
        filter
            .client_ids
            .push(c.client_id(&format!("client_ids[{i}]"), id));
    }
    filter
}

/// Refuses a cursor the stream cannot serve: older than retention keeps, or ahead of it.
pub fn check_cursor(after: i64, bounds: StreamBounds) -> Result<(), Status> {
    if after < 0 {
        return Err(
            DomainError::invalid("after_sequence", "must be 0 or a sequence received").into(),
        );
    }
    if after > bounds.last_seq {
        return Err(DomainError::invalid(
            "after_sequence",
            format!("is beyond the newest entry, {}", bounds.last_seq),
        )
        .into());
    }
    if after < bounds.pruned_through {
        return Err(DomainError::FailedPrecondition {
            reason: "CURSOR_EXPIRED",
            subject: format!("after_sequence/{after}"),
            description: format!(
                "entries up to {} were removed by retention; resume from {} or later after \
                 re-syncing",
                bounds.pruned_through, bounds.pruned_through
            ),
        }
        .into());
    }
    Ok(())
}

/// Reads one batch after `cursor`, then makes sure retention removed nothing the consumer had
/// not seen yet (pruning removes a prefix and records how far, so checking after the read is
/// enough).
pub async fn read_batch<S, T, Fut>(
    store: &S,
    stream: Stream,
    cursor: i64,
    read: Fut,
) -> Result<Vec<T>, Status>
where
    S: Store,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let items = read.await?;
    let bounds = store.stream_bounds(stream).await?;
    if cursor < bounds.pruned_through {
        check_cursor(cursor, bounds)?;
    }
    Ok(items)
}

/// Counts an open subscription for as long as it lives.
struct Subscribed;

impl Subscribed {
    fn new() -> Self {
        crate::telemetry::metrics().subscriber_joined();
        Subscribed
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        crate::telemetry::metrics().subscriber_left();
    }
}

/// Runs the subscriber task: batches after the cursor, then waits for a wake-up, a poll tick,
/// shutdown, or the consumer going away.
pub fn tail<T, R, F, Fut>(
    after: i64,
    mut wake: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    mut fetch: F,
    seq: fn(&T) -> i64,
    wrap: fn(T) -> R,
) -> EventStream<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnMut(i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<T>, Status>> + Send,
{
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let _subscribed = Subscribed::new();
        let mut cursor = after;
        loop {
            if *shutdown.borrow_and_update() {
                let _ = tx
                    .send(Err(Status::unavailable(
                        "the server is shutting down; resume from the last sequence received",
                    )))
                    .await;
                return;
            }
            wake.borrow_and_update();
            let batch = match fetch(cursor).await {
                Ok(batch) => batch,
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    Ok(()) = wake.changed() => {}
                    Ok(()) = shutdown.changed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = tx.closed() => return,
                }
                continue;
            }
            for item in batch {
                cursor = seq(&item);
                if tx.send(Ok(wrap(item))).await.is_err() {
                    return;
                }
            }
        }
    });
    ReceiverStream::new(rx)
}

pub fn status_changes<S: Store>(
    store: Arc<S>,
    after: i64,
    filter: EventFilter,
    shutdown: watch::Receiver<bool>,
) -> EventStream<pb::StreamStatusChangesResponse> {
    let wake = store.wakeups();
    tail(
        after,
        wake,
        shutdown,
        move |cursor| {
            let (store, filter) = (store.clone(), filter.clone());
            async move {
                let read = store.status_events(cursor, &filter, BATCH);
                read_batch(&*store, Stream::Status, cursor, read).await
            }
        },
        |e| e.seq,
        status_event_to_proto,
    )
}

pub fn alerts<S: Store>(
    store: Arc<S>,
    after: i64,
    filter: AlertFilter,
    shutdown: watch::Receiver<bool>,
) -> EventStream<pb::StreamAlertsResponse> {
    let wake = store.wakeups();
    tail(
        after,
        wake,
        shutdown,
        move |cursor| {
            let (store, filter) = (store.clone(), filter.clone());
            async move {
                let read = store.alerts(cursor, &filter, BATCH);
                read_batch(&*store, Stream::Alerts, cursor, read).await
            }
        },
        |a| a.seq,
        alert_to_proto,
    )
}

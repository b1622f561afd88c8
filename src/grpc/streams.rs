//! StreamStatusChanges and StreamAlerts. Each subscriber gets a task that reads the stream from
//! the database by cursor into a small bounded channel: a slow consumer only ever holds one
//! batch, never slows writers or other consumers, and catches up by reading, not by buffering.
//! Each task also keeps its lag (stream head minus its cursor) for the metrics.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::domain::DomainError;
use crate::proto as pb;
use crate::store::{AlertFilter, EventFilter, Store, StoreError, Stream, StreamBounds};
use crate::telemetry::StreamPosition;

use super::convert::{alert_to_proto, status_event_to_proto};
use super::enums::{ALERT_KINDS, STAGES, choices};
use super::validate::{Need, SHORT_MAX, client_id, count, line};
use super::violations::{All, Violations};

/// Entries read from the database per query.
const BATCH: i64 = 256;
/// Entries queued per subscriber before its task waits for the consumer.
const BUFFER: usize = 64;
/// Subscribers re-read at least this often, even if no wake-up arrives.
const POLL: Duration = Duration::from_secs(1);
/// Most values in one filter list.
const FILTER_MAX: usize = 100;

pub type EventStream<T> = ReceiverStream<Result<T, Status>>;

impl TryFrom<&pb::StreamStatusChangesRequest> for EventFilter {
    type Error = Violations;
    fn try_from(r: &pb::StreamStatusChangesRequest) -> Result<Self, Violations> {
        let (new_stages, causes, client_ids) = (
            choices("new_stages", &r.new_stages, &STAGES),
            causes(&r.causes),
            clients(&r.client_ids),
        )
            .all()?;
        Ok(EventFilter {
            new_stages,
            causes,
            client_ids,
        })
    }
}

impl TryFrom<&pb::StreamAlertsRequest> for AlertFilter {
    type Error = Violations;
    fn try_from(r: &pb::StreamAlertsRequest) -> Result<Self, Violations> {
        let (kinds, client_ids) = (
            choices("kinds", &r.kinds, &ALERT_KINDS),
            clients(&r.client_ids),
        )
            .all()?;
        Ok(AlertFilter { kinds, client_ids })
    }
}

fn causes(values: &[String]) -> Result<Vec<String>, Violations> {
    count("causes", values.len(), FILTER_MAX)?;
    let mut v = Violations::default();
    let causes = values
        .iter()
        .enumerate()
        .filter_map(|(i, c)| v.keep(line(&format!("causes[{i}]"), c, SHORT_MAX, Need::Required)))
        .collect();
    v.into_result().map(|()| causes)
}

fn clients(ids: &[i64]) -> Result<Vec<i64>, Violations> {
    count("client_ids", ids.len(), FILTER_MAX)?;
    let mut v = Violations::default();
    let clients = ids
        .iter()
        .enumerate()
        .filter_map(|(i, &id)| v.keep(client_id(&format!("client_ids[{i}]"), id)))
        .collect();
    v.into_result().map(|()| clients)
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

/// One read of a stream: the entries after the cursor (at most `BATCH`), and the stream's
/// newest sequence right after the read.
pub struct Batch<T> {
    items: Vec<T>,
    head: i64,
}

/// Reads one batch after `cursor`, then makes sure retention removed nothing the consumer had
/// not seen yet (pruning removes a prefix and records how far, so checking after the read is
/// enough).
pub async fn read_batch<S, T, Fut>(
    store: &S,
    stream: Stream,
    cursor: i64,
    read: Fut,
) -> Result<Batch<T>, Status>
where
    S: Store,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let items = read.await?;
    let bounds = store.stream_bounds(stream).await?;
    if cursor < bounds.pruned_through {
        check_cursor(cursor, bounds)?;
    }
    Ok(Batch {
        items,
        head: bounds.last_seq,
    })
}

/// Counts an open subscription, and its lag, for as long as it lives.
struct Subscribed(Arc<StreamPosition>);

impl Subscribed {
    fn new(stream: Stream, after: i64) -> Self {
        let metrics = crate::telemetry::metrics();
        metrics.subscriber_joined();
        Subscribed(metrics.stream_position(stream.name(), after))
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        crate::telemetry::metrics().subscriber_left();
    }
}

/// Runs the subscriber task: batches after the cursor, then waits for a wake-up, a poll tick,
/// shutdown, or the consumer going away. While the consumer's queue is full it re-reads the
/// stream's head every `POLL` with `head`, so a stalled consumer's lag keeps growing.
#[allow(clippy::too_many_arguments)]
pub fn tail<T, R, F, Fut, H, HFut>(
    stream: Stream,
    after: i64,
    mut wake: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    mut fetch: F,
    mut head: H,
    seq: fn(&T) -> i64,
    wrap: fn(T) -> R,
) -> EventStream<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: FnMut(i64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Batch<T>, Status>> + Send,
    H: FnMut() -> HFut + Send + 'static,
    HFut: Future<Output = Result<StreamBounds, StoreError>> + Send,
{
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let subscribed = Subscribed::new(stream, after);
        let position = &subscribed.0;
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
            position.saw_head(batch.head);
            if batch.items.is_empty() {
                // Everything up to the head was read (or skipped by the filter).
                position.reached(batch.head);
                tokio::select! {
                    Ok(()) = wake.changed() => {}
                    Ok(()) = shutdown.changed() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = tx.closed() => return,
                }
                continue;
            }
            let caught_up = (batch.items.len() as i64) < BATCH;
            for item in batch.items {
                cursor = seq(&item);
                let permit = loop {
                    tokio::select! {
                        permit = tx.reserve() => break permit,
                        // A consumer that stopped reading must not hold up the server's drain.
                        Ok(()) = shutdown.changed() => {
                            if *shutdown.borrow() {
                                return;
                            }
                        }
                        _ = tokio::time::sleep(POLL) => {
                            if let Ok(bounds) = head().await {
                                position.saw_head(bounds.last_seq);
                            }
                        }
                    }
                };
                let Ok(permit) = permit else { return };
                permit.send(Ok(wrap(item)));
                position.reached(cursor);
            }
            if caught_up {
                // A short batch read everything there was; the filter skipped the rest.
                position.reached(batch.head);
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
    let heads = store.clone();
    tail(
        Stream::Status,
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
        move || {
            let store = heads.clone();
            async move { store.stream_bounds(Stream::Status).await }
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
    let heads = store.clone();
    tail(
        Stream::Alerts,
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
        move || {
            let store = heads.clone();
            async move { store.stream_bounds(Stream::Alerts).await }
        },
        |a| a.seq,
        alert_to_proto,
    )
}

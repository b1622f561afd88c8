//! One subscriber: a stream the gRPC transport pulls from directly. There is no queue of its
//! own between the hub and the transport: an entry is taken (an `Arc` from the ring, or a row
//! read from the store while behind) only when the transport asks for the next one, which it
//! does only while HTTP/2 flow control lets it send. So the subscriber's position is exactly
//! what the transport has accepted, and a consumer that stops reading holds a bounded number of
//! bytes (see `docs/streams.md`).
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, watch};
use tonic::Status;

use crate::telemetry::StreamPosition;

use super::catchup::{self, StoreRead};
use super::check_cursor;
use super::hub::{Hub, POLL};
use super::ring::{Entry, Look};
use super::source::Source;

/// What a subscription RPC answers with.
pub type Feed<M> = Pin<Box<dyn futures_util::Stream<Item = Result<M, Status>> + Send>>;

/// Bytes handed to the transport before the feed pauses once. tonic's encoder keeps pulling
/// messages into one buffer until 32 KiB or until the stream is not ready; the pause closes the
/// buffer earlier (within its first 8 KiB allocation), so a stalled consumer pins about two
/// such chunks in the transport.
const CHUNK: usize = 6 * 1024;
/// Ring entries taken per look: one chunk's worth, so a stalled subscriber keeps alive next to
/// nothing that the ring has let go of.
const TAKE: usize = 64;
const TAKE_BYTES: usize = CHUNK;
/// A store read while behind the ring is one chunk's worth (`SMALL_READ`), which the feed then
/// hands out whole, so a subscriber that stalls holds next to nothing of it; or, while the
/// hub's shared read budget allows, a large one (`catchup::BIG_READ_KIB`) with the next read
/// ahead, which catches up with fewer queries.
const SMALL_READ: usize = CHUNK;

enum Pending<M> {
    Shared(Arc<Entry<M>>),
    Read { seq: i64, message: M, size: usize },
}

/// Counts an open subscription, and its lag, for as long as it lives.
struct Subscribed(Arc<StreamPosition>);

impl Subscribed {
    fn new(stream: &'static str, after: i64) -> Self {
        let metrics = crate::telemetry::metrics();
        metrics.subscriber_joined();
        Subscribed(metrics.stream_position(stream, after))
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        crate::telemetry::metrics().subscriber_left();
    }
}

struct Subscriber<Src: Source> {
    hub: Arc<Hub<Src>>,
    filter: Src::Filter,
    /// Every entry up to here has been handed out, is pending, or was skipped by the filter.
    cursor: i64,
    pending: VecDeque<Pending<Src::Message>>,
    /// The share of the read budget that `pending` holds, if it came from a large read.
    budget: Option<OwnedSemaphorePermit>,
    /// The next large read, running while `pending` is handed out.
    ahead: Option<StoreRead<Src::Message>>,
    published: watch::Receiver<i64>,
    shutdown: watch::Receiver<bool>,
    position: Subscribed,
    /// Bytes handed to the transport since the last pause.
    chunk: usize,
    done: bool,
}

/// A feed of the hub's stream after `after`, filtered. The caller has checked the cursor.
pub fn feed<Src: Source>(
    hub: Arc<Hub<Src>>,
    after: i64,
    filter: Src::Filter,
) -> Feed<Src::Message> {
    let position = Subscribed::new(hub.source.stream().name(), after);
    hub.watch_position(&position.0);
    let subscriber = Subscriber {
        published: hub.published(),
        shutdown: hub.shutdown.clone(),
        hub,
        filter,
        cursor: after,
        pending: VecDeque::new(),
        budget: None,
        ahead: None,
        position,
        chunk: 0,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        subscriber,
        |mut s| async move { s.next().await.map(|item| (item, s)) },
    ))
}

impl<Src: Source> Subscriber<Src> {
    async fn next(&mut self) -> Option<Result<Src::Message, Status>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(pending) = self.pending.pop_front() {
                let (seq, size, message) = match pending {
                    Pending::Shared(entry) => (entry.seq, entry.size, entry.message.clone()),
                    Pending::Read { seq, message, size } => (seq, size, message),
                };
                if self.chunk >= CHUNK {
                    self.chunk = 0;
                    tokio::task::yield_now().await;
                }
                self.chunk += size;
                // The last pending entry also stands for what the filter skipped after it.
                let reached = if self.pending.is_empty() {
                    self.budget = None;
                    self.cursor
                } else {
                    seq
                };
                self.position.0.reached(reached);
                return Some(Ok(message));
            }
            if *self.shutdown.borrow() {
                self.done = true;
                return Some(Err(Status::unavailable(
                    "the server is shutting down; resume from the last sequence received",
                )));
            }
            match self.refill().await {
                Ok(true) => {}
                Ok(false) => self.wait().await,
                Err(status) => {
                    self.done = true;
                    return Some(Err(status));
                }
            }
        }
    }

    /// Takes what follows the cursor, from the ring or, when behind it, from the store.
    /// `Ok(false)`: nothing new yet.
    async fn refill(&mut self) -> Result<bool, Status> {
        let head = *self.published.borrow_and_update();
        self.position.0.saw_head(head);
        match self.hub.look(self.cursor, TAKE, TAKE_BYTES, &self.filter) {
            Look::Entries { entries, through } => {
                if through == self.cursor {
                    self.position.0.reached(through);
                    return Ok(false);
                }
                self.cursor = through;
                if entries.is_empty() {
                    self.position.0.reached(through);
                }
                self.pending
                    .extend(entries.into_iter().map(Pending::Shared));
                Ok(true)
            }
            Look::Behind { base } => self.read_store(base).await,
        }
    }

    /// Reads the entries after the cursor from the store, then makes sure retention removed
    /// nothing the consumer had not seen yet (pruning removes a prefix and records how far, so
    /// checking after the read is enough). Everything up to `base` had been committed before
    /// the read, so a read that returns less than it asked for has seen all of it.
    async fn read_store(&mut self, base: i64) -> Result<bool, Status> {
        // The query makes the feed wait, and so closes the transport's chunk.
        self.chunk = 0;
        let mut read = match self.ahead.take() {
            Some(ahead) if ahead.after == self.cursor => ahead,
            _ => {
                let budget = catchup::large_budget(&self.hub);
                catchup::start(&self.hub, self.cursor, &self.filter, budget, SMALL_READ)
            }
        };
        let (entries, bounds) = read.finish().await?;
        if self.cursor < bounds.pruned_through {
            check_cursor(self.cursor, bounds)?;
        }
        self.position.0.saw_head(bounds.last_seq);
        let before = self.cursor;
        let complete = entries.len() < read.limit;
        for (seq, message, size) in entries {
            self.cursor = seq;
            self.pending.push_back(Pending::Read { seq, message, size });
        }
        if !self.pending.is_empty() {
            self.budget = read.budget.take();
        }
        if complete {
            // `base` is `i64::MAX` until the hub knows where the stream is.
            if base != i64::MAX {
                self.cursor = self.cursor.max(base);
                if self.pending.is_empty() {
                    self.position.0.reached(self.cursor);
                }
            }
        } else if self.budget.is_some() {
            self.ahead = catchup::large_budget(&self.hub).map(|budget| {
                catchup::start(
                    &self.hub,
                    self.cursor,
                    &self.filter,
                    Some(budget),
                    SMALL_READ,
                )
            });
        }
        Ok(self.cursor != before)
    }

    async fn wait(&mut self) {
        self.chunk = 0;
        tokio::select! {
            Ok(()) = self.published.changed() => {}
            Ok(()) = self.shutdown.changed() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

//! One hub per stream per process: a single task reads each committed entry from the store
//! once, converts it to its wire message once, keeps it in a bounded ring and tells the
//! subscribers. Subscribers cost the writer nothing: they read the ring, and read the store only
//! when they are behind what the ring holds.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use crate::telemetry::StreamPosition;

use super::ring::{Entry, Limits, Look, Ring};
use super::source::Source;

/// Entries the hub reads from the store per query.
const BATCH: i64 = 256;
/// The hub re-reads at least this often, even if no wake-up arrives (a missed NOTIFY).
pub const POLL: Duration = Duration::from_secs(1);
/// How often subscribers' lag learns the stream's newest sequence from the hub.
const POSITIONS_EVERY: Duration = Duration::from_millis(100);
/// Subscribers reading the store at once (catching up); the rest wait their turn, so a crowd
/// of late subscribers cannot take the database or the CPU from the writers.
const STORE_READERS: usize = 2;
/// Bytes of large store reads (`BIG_READ_KIB` each) that subscribers catching up may hold at
/// once, in KiB; beyond it a subscriber reads one transport chunk at a time.
const READ_BUDGET_KIB: usize = 4 * 1024;

pub struct Hub<Src: Source> {
    pub(super) source: Src,
    ring: Mutex<Ring<Src::Message>>,
    /// The ring's head, each time it moves: what waiting subscribers wait on.
    published: watch::Sender<i64>,
    pub(super) store_readers: Semaphore,
    pub(super) read_budget: Arc<Semaphore>,
    /// The mean encoded size of an entry, to size a subscriber's reads from the store.
    mean_size: AtomicUsize,
    positions: Mutex<Vec<Weak<StreamPosition>>>,
    pub(super) shutdown: watch::Receiver<bool>,
    /// Counts `forget`s: a read that one overtook is read again.
    forgotten: AtomicU64,
}

impl<Src: Source> Hub<Src> {
    /// Starts the hub's task; it ends when `shutdown` turns true.
    pub fn start(source: Src, limits: Limits, shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let hub = Arc::new(Hub {
            source,
            ring: Mutex::new(Ring::unknown(limits)),
            published: watch::Sender::new(i64::MIN),
            store_readers: Semaphore::new(STORE_READERS),
            read_budget: Arc::new(Semaphore::new(READ_BUDGET_KIB)),
            mean_size: AtomicUsize::new(1024),
            positions: Mutex::new(Vec::new()),
            shutdown,
            forgotten: AtomicU64::new(0),
        });
        tokio::spawn(hub.clone().tail());
        hub
    }

    /// Drops the entries held in memory, which were read before an erasure and may hold the
    /// erased data: subscribers behind the head read the store, which holds none.
    pub fn forget(&self) {
        let mut ring = self.ring();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        let head = ring.head();
        ring.restart_after(head);
    }

    fn ring(&self) -> MutexGuard<'_, Ring<Src::Message>> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn look(
        &self,
        cursor: i64,
        max: usize,
        max_bytes: usize,
        filter: &Src::Filter,
    ) -> Look<Src::Message> {
        self.ring()
            .look(cursor, max, max_bytes, |m| Src::admits(filter, m))
    }

    pub(super) fn published(&self) -> watch::Receiver<i64> {
        self.published.subscribe()
    }

    pub(super) fn mean_size(&self) -> usize {
        self.mean_size.load(Ordering::Relaxed).max(1)
    }

    /// Keeps `position`'s idea of the stream's newest sequence current while it lives, even
    /// when its subscriber is not polled (a consumer that stopped reading).
    pub(super) fn watch_position(&self, position: &Arc<StreamPosition>) {
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        positions.retain(|p| p.strong_count() > 0);
        positions.push(Arc::downgrade(position));
    }

    fn update_positions(&self, head: i64) {
        let positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        for position in positions.iter().filter_map(Weak::upgrade) {
            position.saw_head(head);
        }
    }

    /// The hub's task: on every wake-up (or poll tick) read what was committed after the
    /// ring's head, then publish it.
    async fn tail(self: Arc<Self>) {
        let mut wake = self.source.wakeups();
        let mut shutdown = self.shutdown.clone();
        let mut positions_at = Instant::now();
        loop {
            if *shutdown.borrow_and_update() {
                return;
            }
            // Marked seen before reading, so a commit during the read wakes us again.
            wake.borrow_and_update();
            if let Err(e) = self.catch_up().await {
                // Subscribers wait meanwhile; the next wake-up or poll tick tries again.
                tracing::warn!(stream = self.source.stream().name(), error = %e, "stream hub could not read the store");
            }
            if positions_at.elapsed() >= POSITIONS_EVERY {
                positions_at = Instant::now();
                self.update_positions(self.ring().head());
            }
            tokio::select! {
                Ok(()) = wake.changed() => {}
                changed = shutdown.changed() => {
                    // The server is gone without saying so (it failed): so is the hub.
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Reads everything after the ring's head into the ring, batch by batch. The first time,
    /// the ring starts at the stream's newest entry: older entries are read from the store by
    /// the subscribers that want them.
    async fn catch_up(&self) -> Result<(), crate::store::StoreError> {
        if *self.published.borrow() == i64::MIN {
            let bounds = self.source.bounds().await?;
            self.ring().restart_after(bounds.last_seq);
            self.published.send_replace(bounds.last_seq);
        }
        let default = Src::Filter::default();
        loop {
            let generation = self.forgotten.load(Ordering::SeqCst);
            let head = self.ring().head();
            let records = self.source.read(head, &default, BATCH).await?;
            let full = records.len() as i64 == BATCH;
            if records.is_empty() {
                return Ok(());
            }
            let entries: Vec<_> = records
                .into_iter()
                .map(|record| {
                    let seq = Src::seq(&record);
                    let message = Src::to_message(record);
                    let size = prost::Message::encoded_len(&message);
                    Arc::new(Entry { seq, message, size })
                })
                .collect();
            let total: usize = entries.iter().map(|e| e.size).sum();
            self.mean_size
                .store(total / entries.len(), Ordering::Relaxed);
            let head = {
                let mut ring = self.ring();
                if self.forgotten.load(Ordering::SeqCst) != generation {
                    // Read before an erasure was forgotten: read again what the store holds now.
                    continue;
                }
                for entry in entries {
                    // An erasure another process committed: what the ring held before it may
                    // hold the erased data (its own erasures are forgotten at once, `forget`).
                    if Src::erases(&entry.message) {
                        ring.restart_after(entry.seq - 1);
                    }
                    ring.push(entry);
                }
                ring.head()
            };
            self.published.send_replace(head);
            if !full {
                return Ok(());
            }
        }
    }
}

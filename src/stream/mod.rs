//! StreamStatusChanges and StreamAlerts: outbox tailing and subscriber fan-out. Per stream, one
//! `Hub` reads each committed entry once and keeps the recent ones in a bounded ring; each
//! subscriber is a `Feed` that takes from the ring and reads the store by cursor only while it is
//! behind what the ring holds. `docs/streams.md` gives the memory budget and the guarantees.
use std::sync::Arc;

use tokio::sync::watch;
use tonic::Status;

use crate::domain::DomainError;
use crate::store::{Store, StreamBounds};

mod catchup;
mod hub;
mod ring;
mod source;
mod subscriber;

pub use hub::Hub;
pub use ring::Limits;
pub use source::{Alerts, Source, StatusChanges};
pub use subscriber::Feed;

/// What each stream's ring holds at most: entries, and their encoded bytes.
pub const RING: Limits = Limits {
    entries: 4096,
    bytes: 8 * 1024 * 1024,
};

/// The hubs of both streams, started once per server.
pub struct Streams<S: Store> {
    pub status: Arc<Hub<StatusChanges<S>>>,
    pub alerts: Arc<Hub<Alerts<S>>>,
}

impl<S: Store> Streams<S> {
    /// Starts both hubs; they stop, and every feed ends with UNAVAILABLE, when `shutdown` turns
    /// true.
    pub fn start(store: Arc<S>, shutdown: watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(Streams {
            status: Hub::start(StatusChanges(store.clone()), RING, shutdown.clone()),
            alerts: Hub::start(Alerts(store), RING, shutdown),
        })
    }

    /// After an erasure this process committed: both hubs drop what they hold in memory.
    pub fn forget(&self) {
        self.status.forget();
        self.alerts.forget();
    }
}

impl<Src: Source> Hub<Src> {
    /// A feed of the entries after `after` that `filter` admits, refusing a cursor the stream
    /// cannot serve.
    pub async fn subscribe(
        self: &Arc<Self>,
        after: i64,
        filter: Src::Filter,
    ) -> Result<Feed<Src::Message>, Status> {
        check_cursor(after, self.source.bounds().await?)?;
        Ok(subscriber::feed(self.clone(), after, filter))
    }
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

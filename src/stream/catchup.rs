//! A subscriber's reads from the store while it is behind the ring. Each read runs as its own
//! task, so the next one (read ahead while the transport sends the current one) uses the other
//! core, and a long replay goes at the speed of the slower of the two, not of their sum.
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tonic::Status;

use crate::store::{StoreError, StreamBounds};

use super::hub::Hub;
use super::source::Source;

/// A large read's size, in KiB of the hub's read budget.
pub const BIG_READ_KIB: u32 = 256;
const READ_MIN: usize = 4;
const READ_MAX: usize = 256;

/// Entries read, converted to their messages, with their encoded sizes.
pub type Read<M> = Vec<(i64, M, usize)>;

/// A read after `after` of at most `limit` entries, running or done.
pub struct StoreRead<M: Send + 'static> {
    pub after: i64,
    pub limit: usize,
    task: JoinHandle<Result<(Read<M>, StreamBounds), StoreError>>,
    /// The share of the hub's read budget that this read's entries take; `None` for a small
    /// read, which the budget does not count.
    pub budget: Option<OwnedSemaphorePermit>,
}

impl<M: Send + 'static> Drop for StoreRead<M> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A share of the hub's read budget for one large read, if there is one left.
pub fn large_budget<Src: Source>(hub: &Hub<Src>) -> Option<OwnedSemaphorePermit> {
    hub.read_budget
        .clone()
        .try_acquire_many_owned(BIG_READ_KIB)
        .ok()
}

/// Starts reading the entries after `after` that `filter` admits: a large read with a share of
/// the budget, else `small_bytes` worth.
pub fn start<Src: Source>(
    hub: &Arc<Hub<Src>>,
    after: i64,
    filter: &Src::Filter,
    budget: Option<OwnedSemaphorePermit>,
    small_bytes: usize,
) -> StoreRead<Src::Message> {
    let bytes = budget
        .as_ref()
        .map_or(small_bytes, |_| BIG_READ_KIB as usize * 1024);
    let limit = (bytes / hub.mean_size()).clamp(READ_MIN, READ_MAX);
    let (hub, filter) = (hub.clone(), filter.clone());
    let task = tokio::spawn(async move {
        let permit = hub.store_readers.acquire().await;
        let records = hub.source.read(after, &filter, limit as i64).await?;
        let bounds = hub.source.bounds().await?;
        drop(permit);
        let entries = records
            .into_iter()
            .map(|record| {
                let seq = Src::seq(&record);
                let message = Src::to_message(record);
                let size = prost::Message::encoded_len(&message);
                (seq, message, size)
            })
            .collect();
        Ok((entries, bounds))
    });
    StoreRead {
        after,
        limit,
        task,
        budget,
    }
}

impl<M: Send + 'static> StoreRead<M> {
    /// The read's entries, and the stream's bounds read right after them.
    pub async fn finish(&mut self) -> Result<(Read<M>, StreamBounds), Status> {
        match (&mut self.task).await {
            Ok(read) => Ok(read?),
            Err(e) => {
                tracing::error!(error = %e, "a stream read task failed");
                Err(Status::unavailable(
                    "the stream could not be read; resume from the last sequence received",
                ))
            }
        }
    }
}

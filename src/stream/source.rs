//! What a stream is read from: the store's reads for one stream, and how its entries become
//! wire messages and meet a subscriber's filter. One hub and one subscriber code path serve both
//! streams through this trait.
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::grpc::convert::{
    alert_kind_to_proto, alert_to_proto, stage_to_proto, status_event_to_proto,
};
use crate::proto as pb;
use crate::store::{
    AlertFilter, AlertRecord, EventFilter, StatusEventRecord, Store, StoreError, Stream,
    StreamBounds,
};

pub trait Source: Send + Sync + 'static {
    type Record: Send;
    /// Which entries a subscriber wants; `Default` wants all of them.
    type Filter: Default + Clone + Send + Sync + 'static;
    type Message: prost::Message + Clone + Send + Sync + 'static;

    fn stream(&self) -> Stream;
    /// Entries after `after` that `filter` admits, oldest first, at most `limit`.
    fn read(
        &self,
        after: i64,
        filter: &Self::Filter,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Record>, StoreError>> + Send;
    fn bounds(&self) -> impl Future<Output = Result<StreamBounds, StoreError>> + Send;
    /// Changes whenever entries may have been committed.
    fn wakeups(&self) -> watch::Receiver<u64>;
    fn seq(record: &Self::Record) -> i64;
    fn to_message(record: Self::Record) -> Self::Message;
    /// The same decision the store's filtered read makes, taken on the message in memory.
    fn admits(filter: &Self::Filter, message: &Self::Message) -> bool;
    /// Whether the entry records an erasure (EraseClient), after which older entries held in
    /// memory may no longer be served.
    fn erases(_message: &Self::Message) -> bool {
        false
    }
}

/// The status-change stream.
pub struct StatusChanges<S>(pub Arc<S>);

impl<S: Store> Source for StatusChanges<S> {
    type Record = StatusEventRecord;
    type Filter = EventFilter;
    type Message = pb::StreamStatusChangesResponse;

    fn stream(&self) -> Stream {
        Stream::Status
    }

    async fn read(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<StatusEventRecord>, StoreError> {
        self.0.status_events(after, filter, limit).await
    }

    async fn bounds(&self) -> Result<StreamBounds, StoreError> {
        self.0.stream_bounds(Stream::Status).await
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.0.wakeups()
    }

    fn seq(record: &StatusEventRecord) -> i64 {
        record.seq
    }

    fn to_message(record: StatusEventRecord) -> pb::StreamStatusChangesResponse {
        status_event_to_proto(record)
    }

    fn erases(message: &pb::StreamStatusChangesResponse) -> bool {
        message
            .event
            .as_ref()
            .is_some_and(|e| e.kind == pb::StatusEventKind::Erased as i32)
    }

    fn admits(filter: &EventFilter, message: &pb::StreamStatusChangesResponse) -> bool {
        let Some(e) = &message.event else {
            return false;
        };
        (filter.new_stages.is_empty()
            || filter
                .new_stages
                .iter()
                .any(|s| stage_to_proto(*s) as i32 == e.new_stage))
            && (filter.causes.is_empty() || filter.causes.contains(&e.cause))
            && (filter.client_ids.is_empty() || filter.client_ids.contains(&e.client_id))
    }
}

/// The alert stream.
pub struct Alerts<S>(pub Arc<S>);

impl<S: Store> Source for Alerts<S> {
    type Record = AlertRecord;
    type Filter = AlertFilter;
    type Message = pb::StreamAlertsResponse;

    fn stream(&self) -> Stream {
        Stream::Alerts
    }

    async fn read(
        &self,
        after: i64,
        filter: &AlertFilter,
        limit: i64,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.0.alerts(after, filter, limit).await
    }

    async fn bounds(&self) -> Result<StreamBounds, StoreError> {
        self.0.stream_bounds(Stream::Alerts).await
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.0.wakeups()
    }

    fn seq(record: &AlertRecord) -> i64 {
        record.seq
    }

    fn to_message(record: AlertRecord) -> pb::StreamAlertsResponse {
        alert_to_proto(record)
    }

    fn admits(filter: &AlertFilter, message: &pb::StreamAlertsResponse) -> bool {
        let Some(a) = &message.alert else {
            return false;
        };
        (filter.kinds.is_empty()
            || filter
                .kinds
                .iter()
                .any(|k| alert_kind_to_proto(*k) as i32 == a.kind))
            && (filter.client_ids.is_empty() || filter.client_ids.contains(&a.client_id))
    }
}

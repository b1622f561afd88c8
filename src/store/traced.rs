//! A `Store` that runs each call of another in a span (`store.execute`, `store.get_client`…),
//! child of the RPC that made it, and tells that RPC's span which clients the request names.
//! Calls made outside any span (the alert scheduler's polling, a stream's tailing) are not
//! traced: they run every second and would bury the traces that matter.
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::domain::alerts::AlertSettings;
use crate::domain::{CatalogCommand, CatalogKind, Client, Command, Entry, Timestamp};
use crate::telemetry::note_client_ids;

use super::{
    ActivityCount, ActivityQuery, AlertFilter, AlertRecord, CatalogOutcome, ClientCount,
    ClientFilter, CountFilter, Dimensions, EventFilter, HistoryKey, HistoryRecord, Mutation,
    Outcome, Page, Result, StatusEventRecord, Store, StoreError, Stream, StreamBounds,
};

pub struct Traced<S> {
    inner: Arc<S>,
    /// OpenTelemetry's `db.system` value: `sqlite`, `postgresql`.
    system: &'static str,
}

impl<S: Store> Traced<S> {
    pub fn new(inner: Arc<S>, system: &'static str) -> Self {
        Traced { inner, system }
    }
}

/// A span for one store call, or none outside any span.
macro_rules! store_span {
    ($self:ident, $name:literal, $op:literal) => {
        if Span::current().is_none() {
            Span::none()
        } else {
            tracing::info_span!(
                $name,
                otel.kind = "client",
                otel.status_code = Empty,
                db.system = $self.system,
                db.operation = $op,
                client_id = Empty,
                error = Empty,
            )
        }
    };
}

/// Runs `call` in `span`, marking the span failed on an error the caller did not cause.
async fn traced<T>(span: Span, call: impl Future<Output = Result<T>>) -> Result<T> {
    let result = call.instrument(span.clone()).await;
    if let Err(e) = &result {
        span.record("error", tracing::field::display(e));
        if !matches!(e, StoreError::Domain(_)) {
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}

/// Puts the clients a call names on its span (when there is one) and on the RPC's.
fn name_clients(span: &Span, ids: &[i64]) {
    if let [one] = ids {
        span.record("client_id", *one);
    }
    note_client_ids(ids.iter().copied());
}

impl<S: Store> Store for Traced<S> {
    async fn execute(&self, mutation: Mutation) -> Result<Outcome> {
        let span = store_span!(self, "store.execute", "execute");
        // An update names its clients; a creation's client is known once it is made (or matched).
        let creates = match &mutation.request.command {
            Command::Update { client_ids, .. } => {
                name_clients(&span, client_ids);
                false
            }
            Command::Create(_) => true,
            Command::Card(card) => {
                name_clients(&span, &card.client_ids());
                false
            }
        };
        let result = traced(span.clone(), self.inner.execute(mutation)).await;
        if let (true, Ok(outcome)) = (creates, &result) {
            let ids: Vec<i64> = outcome.clients.iter().map(|c| c.client_id).collect();
            name_clients(&span, &ids);
        }
        result
    }

    async fn change_catalog(&self, mutation: Mutation<CatalogCommand>) -> Result<CatalogOutcome> {
        let span = store_span!(self, "store.change_catalog", "change_catalog");
        traced(span, self.inner.change_catalog(mutation)).await
    }

    async fn get_client(&self, client_id: i64) -> Result<Client> {
        let span = store_span!(self, "store.get_client", "get_client");
        name_clients(&span, &[client_id]);
        traced(span, self.inner.get_client(client_id)).await
    }

    async fn list_clients(&self, filter: &ClientFilter, page: Page<i64>) -> Result<Vec<Client>> {
        let span = store_span!(self, "store.list_clients", "list_clients");
        traced(span, self.inner.list_clients(filter, page)).await
    }

    async fn count_clients(
        &self,
        filter: &CountFilter,
        dims: Dimensions,
    ) -> Result<Vec<ClientCount>> {
        let span = store_span!(self, "store.count_clients", "count_clients");
        traced(span, self.inner.count_clients(filter, dims)).await
    }

    async fn count_activities(&self, query: &ActivityQuery) -> Result<Vec<ActivityCount>> {
        let span = store_span!(self, "store.count_activities", "count_activities");
        traced(span, self.inner.count_activities(query)).await
    }

    async fn stage_conversion(
        &self,
        query: &super::timeline::ConversionQuery,
    ) -> Result<Vec<super::timeline::ConversionCount>> {
        let span = store_span!(self, "store.stage_conversion", "stage_conversion");
        traced(span, self.inner.stage_conversion(query)).await
    }

    async fn time_in_stage(
        &self,
        query: &super::timeline::StayQuery,
    ) -> Result<Vec<super::timeline::StageStay>> {
        let span = store_span!(self, "store.time_in_stage", "time_in_stage");
        traced(span, self.inner.time_in_stage(query)).await
    }

    async fn stage_entries(
        &self,
        query: &super::timeline::EntriesQuery,
    ) -> Result<Vec<super::timeline::EntryCount>> {
        let span = store_span!(self, "store.stage_entries", "stage_entries");
        traced(span, self.inner.stage_entries(query)).await
    }

    async fn catalog(&self, kinds: &[CatalogKind]) -> Result<Vec<Entry>> {
        let span = store_span!(self, "store.catalog", "catalog");
        traced(span, self.inner.catalog(kinds)).await
    }

    async fn history(&self, client_id: i64, page: Page<HistoryKey>) -> Result<Vec<HistoryRecord>> {
        let span = store_span!(self, "store.history", "history");
        name_clients(&span, &[client_id]);
        traced(span, self.inner.history(client_id, page)).await
    }

    async fn status_events(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<StatusEventRecord>> {
        let span = store_span!(self, "store.status_events", "status_events");
        traced(span, self.inner.status_events(after, filter, limit)).await
    }

    async fn alerts(
        &self,
        after: i64,
        filter: &AlertFilter,
        limit: i64,
    ) -> Result<Vec<AlertRecord>> {
        let span = store_span!(self, "store.alerts", "alerts");
        traced(span, self.inner.alerts(after, filter, limit)).await
    }

    async fn stream_bounds(&self, stream: Stream) -> Result<StreamBounds> {
        let span = store_span!(self, "store.stream_bounds", "stream_bounds");
        traced(span, self.inner.stream_bounds(stream)).await
    }

    async fn prune_streams(&self, cutoff: Timestamp) -> Result<()> {
        let span = store_span!(self, "store.prune_streams", "prune_streams");
        traced(span, self.inner.prune_streams(cutoff)).await
    }

    async fn prune_requests(&self, cutoff: Timestamp) -> Result<u64> {
        let span = store_span!(self, "store.prune_requests", "prune_requests");
        traced(span, self.inner.prune_requests(cutoff)).await
    }

    async fn raise_due_alerts(&self, now: Timestamp, settings: &AlertSettings) -> Result<usize> {
        let span = store_span!(self, "store.raise_due_alerts", "raise_due_alerts");
        traced(span, self.inner.raise_due_alerts(now, settings)).await
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.inner.wakeups()
    }

    // No span: the probe runs every half second and would drown the traces.
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn history_with_merged(
        &self,
        client_id: i64,
        page: Page<HistoryKey>,
    ) -> Result<Vec<HistoryRecord>> {
        let span = store_span!(self, "store.history", "history");
        name_clients(&span, &[client_id]);
        traced(span, self.inner.history_with_merged(client_id, page)).await
    }
}

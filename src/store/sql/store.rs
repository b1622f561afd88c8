//! The [`Store`] both databases share: reads run the shared SQL on a reader the backend lends;
//! each write runs the shared engine in the backend's transaction discipline (SQLite: a
//! group-committed batch on the one writer connection; Postgres: a transaction per request,
//! run again on collision).
use std::future::Future;

use tokio::sync::watch;

use crate::domain::alerts::AlertSettings;
use crate::domain::card::CardCommand;
use crate::domain::{CatalogCommand, CatalogKind, Client, Command, Entry, Timestamp};

use super::super::engine::Appended;
use super::super::{
    ActivityCount, ActivityQuery, AlertFilter, AlertRecord, CatalogOutcome, ClientCount,
    ClientFilter, CountFilter, Dimensions, EventFilter, HistoryKey, HistoryRecord, Mutation,
    Outcome, Page, Result, StatusEventRecord, Store, Stream, StreamBounds,
};
use super::{Conn, read};

/// What differs between the databases: connections and the transaction discipline.
pub trait Backend: Send + Sync + 'static {
    type Reader: Conn;

    /// A connection for reads (never waits behind a write on SQLite: WAL readers).
    fn reader(&self) -> impl Future<Output = Result<Self::Reader>> + Send;
    /// Each write runs in a transaction and answers once that is durably committed, with what
    /// it appended to the streams.
    fn execute(
        &self,
        mutation: Mutation,
    ) -> impl Future<Output = Result<(Outcome, Appended)>> + Send;
    fn change_catalog(
        &self,
        mutation: Mutation<CatalogCommand>,
    ) -> impl Future<Output = Result<(CatalogOutcome, Appended)>> + Send;
    fn raise_due_alerts(
        &self,
        now: Timestamp,
        settings: AlertSettings,
    ) -> impl Future<Output = Result<Appended>> + Send;
    fn prune_streams(&self, cutoff: Timestamp) -> impl Future<Output = Result<()>> + Send;
    fn prune_requests(&self, cutoff: Timestamp) -> impl Future<Output = Result<u64>> + Send;
    fn close(&self) -> impl Future<Output = ()> + Send;
    /// After an erasure committed: nothing of the erased data may stay in the database's files
    /// where the backend can see to it (SQLite: its write-ahead log).
    fn forget(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

pub struct SqlStore<B> {
    backend: B,
    wake: watch::Sender<u64>,
}

impl<B: Backend> SqlStore<B> {
    /// `wake` is ticked after every commit that appended stream entries (backends that learn of
    /// other processes' commits tick it too).
    pub fn new(backend: B, wake: watch::Sender<u64>) -> Self {
        SqlStore { backend, wake }
    }

    pub async fn close(&self) {
        self.backend.close().await;
    }

    /// After a commit: counted here, in the caller's task, so the RPC's span gets its stage
    /// changes; subscribers woken.
    fn committed(&self, appended: &Appended) {
        if !appended.is_empty() {
            appended.count();
            self.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

impl<B: Backend> Store for SqlStore<B> {
    async fn execute(&self, mutation: Mutation) -> Result<Outcome> {
        let erases = matches!(
            mutation.request.command,
            Command::Card(CardCommand::Erase { .. })
        );
        let (outcome, appended) = self.backend.execute(mutation).await?;
        self.committed(&appended);
        if erases && !outcome.already_recorded {
            self.backend.forget().await;
        }
        Ok(outcome)
    }

    async fn change_catalog(&self, mutation: Mutation<CatalogCommand>) -> Result<CatalogOutcome> {
        let (outcome, appended) = self.backend.change_catalog(mutation).await?;
        self.committed(&appended);
        Ok(outcome)
    }

    async fn get_client(&self, client_id: i64) -> Result<Client> {
        read::get_client(&mut self.backend.reader().await?, client_id).await
    }

    async fn list_clients(&self, filter: &ClientFilter, page: Page<i64>) -> Result<Vec<Client>> {
        read::list_clients(&mut self.backend.reader().await?, filter, page).await
    }

    async fn count_clients(
        &self,
        filter: &CountFilter,
        dims: Dimensions,
    ) -> Result<Vec<ClientCount>> {
        read::count_clients(&mut self.backend.reader().await?, filter, dims).await
    }

    async fn count_activities(&self, query: &ActivityQuery) -> Result<Vec<ActivityCount>> {
        read::count_activities(&mut self.backend.reader().await?, query).await
    }

    async fn catalog(&self, kinds: &[CatalogKind]) -> Result<Vec<Entry>> {
        read::entries(&mut self.backend.reader().await?, kinds).await
    }

    async fn history(&self, client_id: i64, page: Page<HistoryKey>) -> Result<Vec<HistoryRecord>> {
        read::history(&mut self.backend.reader().await?, client_id, page).await
    }

    async fn history_with_merged(
        &self,
        client_id: i64,
        page: Page<HistoryKey>,
    ) -> Result<Vec<HistoryRecord>> {
        read::history_with_merged(&mut self.backend.reader().await?, client_id, page).await
    }

    async fn status_events(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<StatusEventRecord>> {
        read::status_events(&mut self.backend.reader().await?, after, filter, limit).await
    }

    async fn alerts(
        &self,
        after: i64,
        filter: &AlertFilter,
        limit: i64,
    ) -> Result<Vec<AlertRecord>> {
        read::alerts(&mut self.backend.reader().await?, after, filter, limit).await
    }

    async fn stream_bounds(&self, stream: Stream) -> Result<StreamBounds> {
        read::stream_bounds(&mut self.backend.reader().await?, stream).await
    }

    async fn prune_streams(&self, cutoff: Timestamp) -> Result<()> {
        self.backend.prune_streams(cutoff).await
    }

    async fn prune_requests(&self, cutoff: Timestamp) -> Result<u64> {
        self.backend.prune_requests(cutoff).await
    }

    async fn raise_due_alerts(&self, now: Timestamp, settings: &AlertSettings) -> Result<usize> {
        let appended = self.backend.raise_due_alerts(now, *settings).await?;
        self.committed(&appended);
        Ok(appended.alerts_len())
    }

    fn wakeups(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    async fn stage_conversion(
        &self,
        query: &crate::store::timeline::ConversionQuery,
    ) -> Result<Vec<crate::store::timeline::ConversionCount>> {
        super::timeline::stage_conversion(&mut self.backend.reader().await?, query).await
    }

    async fn time_in_stage(
        &self,
        query: &crate::store::timeline::StayQuery,
    ) -> Result<Vec<crate::store::timeline::StageStay>> {
        super::timeline::time_in_stage_side_by_side(|| self.backend.reader(), query).await
    }

    async fn stage_entries(
        &self,
        query: &crate::store::timeline::EntriesQuery,
    ) -> Result<Vec<crate::store::timeline::EntryCount>> {
        super::timeline::stage_entries(&mut self.backend.reader().await?, query).await
    }

    /// On a reader: a health probe must not queue behind writes.
    async fn ping(&self) -> Result<()> {
        self.backend
            .reader()
            .await?
            .fetch_one(super::Sql::new("SELECT 1"))
            .await
            .map(drop)
    }
}

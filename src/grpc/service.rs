//! `ClientStatusService` handlers: authorise, convert, call the store, convert back. The
//! reads are in `reads`, the requests' parsing in `client_requests`.
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::domain::Command;
use crate::domain::card::CardCommand;
use crate::proto as pb;
use crate::proto::client_status_service_server::ClientStatusService;
use crate::store::{AlertFilter, EventFilter, Outcome, Store};
use crate::stream::{Feed, Streams};

use super::auth::principal;
use super::convert::client_to_proto;
use super::page::PageTokens;
use super::reads;
use super::requests::{MutationRequest, to_mutation};

pub struct ClientStatusApi<S: Store> {
    store: Arc<S>,
    /// The two streams' hubs, which end every feed when the server shuts down.
    streams: Arc<Streams<S>>,
    /// Signs and checks the page tokens of ListClients and GetClientHistory.
    tokens: PageTokens,
}

impl<S: Store> ClientStatusApi<S> {
    pub fn new(store: Arc<S>, streams: Arc<Streams<S>>, tokens: PageTokens) -> Self {
        ClientStatusApi {
            store,
            streams,
            tokens,
        }
    }

    async fn mutate<T: MutationRequest<Command = Command>>(
        &self,
        request: Request<T>,
    ) -> Result<Outcome, Status> {
        let caller = principal(&request);
        let mutation = to_mutation(request.get_ref(), &caller)?;
        let outcome = self.store.execute(mutation).await?;
        tracing::debug!(method = T::METHOD, caller = %caller.name, clients = outcome.clients.len(), "applied");
        Ok(outcome)
    }

    async fn one<T: MutationRequest<Command = Command>>(
        &self,
        request: Request<T>,
    ) -> Result<(Option<pb::Client>, bool), Status> {
        let outcome = self.mutate(request).await?;
        let recorded = outcome.already_recorded;
        Ok((
            outcome.clients.into_iter().next().map(client_to_proto),
            recorded,
        ))
    }

    async fn many<T: MutationRequest<Command = Command>>(
        &self,
        request: Request<T>,
    ) -> Result<Vec<pb::Client>, Status> {
        let outcome = self.mutate(request).await?;
        Ok(outcome.clients.into_iter().map(client_to_proto).collect())
    }
}

#[tonic::async_trait]
impl<S: Store> ClientStatusService for ClientStatusApi<S> {
    type StreamStatusChangesStream = Feed<pb::StreamStatusChangesResponse>;
    type StreamAlertsStream = Feed<pb::StreamAlertsResponse>;

    async fn stream_status_changes(
        &self,
        request: Request<pb::StreamStatusChangesRequest>,
    ) -> Result<Response<Self::StreamStatusChangesStream>, Status> {
        let r = request.into_inner();
        let filter = EventFilter::try_from(&r)?;
        let feed = self.streams.status.subscribe(r.after_sequence, filter);
        Ok(Response::new(feed.await?))
    }

    async fn stream_alerts(
        &self,
        request: Request<pb::StreamAlertsRequest>,
    ) -> Result<Response<Self::StreamAlertsStream>, Status> {
        let r = request.into_inner();
        let filter = AlertFilter::try_from(&r)?;
        let feed = self.streams.alerts.subscribe(r.after_sequence, filter);
        Ok(Response::new(feed.await?))
    }

    async fn create_client(
        &self,
        request: Request<pb::CreateClientRequest>,
    ) -> Result<Response<pb::CreateClientResponse>, Status> {
        let outcome = self.mutate(request).await?;
        let created = outcome.created;
        let client = outcome.clients.into_iter().next().map(client_to_proto);
        Ok(Response::new(pb::CreateClientResponse { client, created }))
    }

    async fn get_client(
        &self,
        request: Request<pb::GetClientRequest>,
    ) -> Result<Response<pb::GetClientResponse>, Status> {
        Ok(Response::new(
            reads::get_client(&*self.store, request.get_ref()).await?,
        ))
    }

    async fn list_clients(
        &self,
        request: Request<pb::ListClientsRequest>,
    ) -> Result<Response<pb::ListClientsResponse>, Status> {
        let caller = principal(&request);
        let page = reads::list_clients(&*self.store, &self.tokens, &caller, request.get_ref());
        Ok(Response::new(page.await?))
    }

    async fn get_client_history(
        &self,
        request: Request<pb::GetClientHistoryRequest>,
    ) -> Result<Response<pb::GetClientHistoryResponse>, Status> {
        let caller = principal(&request);
        let page = reads::history(&*self.store, &self.tokens, &caller, request.get_ref());
        Ok(Response::new(page.await?))
    }

    async fn record_contact_attempt(
        &self,
        request: Request<pb::RecordContactAttemptRequest>,
    ) -> Result<Response<pb::RecordContactAttemptResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::RecordContactAttemptResponse { client }))
    }

    async fn record_message_sent(
        &self,
        request: Request<pb::RecordMessageSentRequest>,
    ) -> Result<Response<pb::RecordMessageSentResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::RecordMessageSentResponse { client }))
    }

    async fn schedule_meeting(
        &self,
        request: Request<pb::ScheduleMeetingRequest>,
    ) -> Result<Response<pb::ScheduleMeetingResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::ScheduleMeetingResponse { client }))
    }

    async fn summarize_meeting(
        &self,
        request: Request<pb::SummarizeMeetingRequest>,
    ) -> Result<Response<pb::SummarizeMeetingResponse>, Status> {
        let clients = self.many(request).await?;
        Ok(Response::new(pb::SummarizeMeetingResponse { clients }))
    }

    async fn issue_quote(
        &self,
        request: Request<pb::IssueQuoteRequest>,
    ) -> Result<Response<pb::IssueQuoteResponse>, Status> {
        let (client, already_recorded) = self.one(request).await?;
        Ok(Response::new(pb::IssueQuoteResponse {
            client,
            already_recorded,
        }))
    }

    async fn approve_order(
        &self,
        request: Request<pb::ApproveOrderRequest>,
    ) -> Result<Response<pb::ApproveOrderResponse>, Status> {
        let (client, already_recorded) = self.one(request).await?;
        Ok(Response::new(pb::ApproveOrderResponse {
            client,
            already_recorded,
        }))
    }

    async fn record_invoice(
        &self,
        request: Request<pb::RecordInvoiceRequest>,
    ) -> Result<Response<pb::RecordInvoiceResponse>, Status> {
        let (client, already_recorded) = self.one(request).await?;
        Ok(Response::new(pb::RecordInvoiceResponse {
            client,
            already_recorded,
        }))
    }

    async fn record_extra_properties(
        &self,
        request: Request<pb::RecordExtraPropertiesRequest>,
    ) -> Result<Response<pb::RecordExtraPropertiesResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::RecordExtraPropertiesResponse { client }))
    }

    async fn open_trading_account(
        &self,
        request: Request<pb::OpenTradingAccountRequest>,
    ) -> Result<Response<pb::OpenTradingAccountResponse>, Status> {
        let (client, already_recorded) = self.one(request).await?;
        Ok(Response::new(pb::OpenTradingAccountResponse {
            client,
            already_recorded,
        }))
    }

    async fn record_paid_service(
        &self,
        request: Request<pb::RecordPaidServiceRequest>,
    ) -> Result<Response<pb::RecordPaidServiceResponse>, Status> {
        let (client, already_recorded) = self.one(request).await?;
        Ok(Response::new(pb::RecordPaidServiceResponse {
            client,
            already_recorded,
        }))
    }

    async fn declare_not_interested(
        &self,
        request: Request<pb::DeclareNotInterestedRequest>,
    ) -> Result<Response<pb::DeclareNotInterestedResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::DeclareNotInterestedResponse { client }))
    }

    async fn declare_frozen(
        &self,
        request: Request<pb::DeclareFrozenRequest>,
    ) -> Result<Response<pb::DeclareFrozenResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::DeclareFrozenResponse { client }))
    }

    async fn declare_fictitious(
        &self,
        request: Request<pb::DeclareFictitiousRequest>,
    ) -> Result<Response<pb::DeclareFictitiousResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::DeclareFictitiousResponse { client }))
    }

    async fn restore_client(
        &self,
        request: Request<pb::RestoreClientRequest>,
    ) -> Result<Response<pb::RestoreClientResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::RestoreClientResponse { client }))
    }

    async fn set_status(
        &self,
        request: Request<pb::SetStatusRequest>,
    ) -> Result<Response<pb::SetStatusResponse>, Status> {
        let (client, _) = self.one(request).await?;
        Ok(Response::new(pb::SetStatusResponse { client }))
    }

    async fn reassign(
        &self,
        request: Request<pb::ReassignRequest>,
    ) -> Result<Response<pb::ReassignResponse>, Status> {
        let clients = self.many(request).await?;
        Ok(Response::new(pb::ReassignResponse { clients }))
    }

    async fn update_client(
        &self,
        request: Request<pb::UpdateClientRequest>,
    ) -> Result<Response<pb::UpdateClientResponse>, Status> {
        let caller = principal(&request);
        let mut mutation = to_mutation(request.get_ref(), &caller)?;
        if let Command::Card(CardCommand::Edit {
            lead_source_only, ..
        }) = &mut mutation.request.command
        {
            *lead_source_only = caller.lead_source_only;
        }
        let outcome = self.store.execute(mutation).await?;
        let changed = !outcome.already_recorded;
        let client = outcome.clients.into_iter().next().map(client_to_proto);
        Ok(Response::new(pb::UpdateClientResponse { client, changed }))
    }

    async fn merge_clients(
        &self,
        request: Request<pb::MergeClientsRequest>,
    ) -> Result<Response<pb::MergeClientsResponse>, Status> {
        let mut clients = self.many(request).await?.into_iter();
        let survivor = clients.next();
        Ok(Response::new(pb::MergeClientsResponse {
            survivor,
            merged: clients.collect(),
        }))
    }

    async fn erase_client(
        &self,
        request: Request<pb::EraseClientRequest>,
    ) -> Result<Response<pb::EraseClientResponse>, Status> {
        let outcome = self.mutate(request).await?;
        // Entries this process's hubs hold in memory were read before the erasure.
        self.streams.forget();
        let mut erased_client_ids: Vec<i64> = outcome.clients.iter().map(|c| c.client_id).collect();
        erased_client_ids.sort_unstable();
        Ok(Response::new(pb::EraseClientResponse {
            already_erased: outcome.already_recorded,
            client: outcome.clients.into_iter().next().map(client_to_proto),
            erased_client_ids,
        }))
    }
}

//! `ClientStatusService` handlers: authorise, convert, call the store, convert back.
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use crate::domain::{Catalog, CatalogKind, DomainError};
use crate::proto as pb;
use crate::proto::client_status_service_server::ClientStatusService;
use crate::store::{ClientFilter, Outcome, Page, Store};
use crate::stream::{Feed, Streams};

use super::auth::{Principal, principal};
use super::convert::{
    client_to_proto, decode_page_token, encode_page_token, history_position, history_to_proto,
    lead_status_from_proto, parse_history_position,
};
use super::requests::{MutationRequest, to_mutation};
use super::streams;
use super::validate::{Check, SHORT_MAX};

const LIST_PAGE_DEFAULT: i64 = 50;
const LIST_PAGE_MAX: i64 = 1_000;
const HISTORY_PAGE_DEFAULT: i64 = 100;
const HISTORY_PAGE_MAX: i64 = 1_000;

pub struct ClientStatusApi<S: Store> {
    store: Arc<S>,
    streams: Arc<Streams<S>>,
}

impl<S: Store> ClientStatusApi<S> {
    pub fn new(store: Arc<S>, streams: Arc<Streams<S>>) -> Self {
        ClientStatusApi { store, streams }
    }

    async fn mutate<T: MutationRequest>(&self, request: Request<T>) -> Result<Outcome, Status> {
        let caller = principal(&request);
        let mutation = to_mutation(request.get_ref(), &caller)?;
        let outcome = self.store.execute(mutation).await?;
        tracing::debug!(method = T::METHOD, caller = %caller.name, clients = outcome.clients.len(), "applied");
        Ok(outcome)
    }

    async fn one<T: MutationRequest>(
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

    async fn many<T: MutationRequest>(
        &self,
        request: Request<T>,
    ) -> Result<Vec<pb::Client>, Status> {
        let outcome = self.mutate(request).await?;
        Ok(outcome.clients.into_iter().map(client_to_proto).collect())
    }
}

/// ListClients request -> filter, refusing contradictions field by field.
fn list_filter(r: &pb::ListClientsRequest, caller: &Principal, c: &mut Check) -> ClientFilter {
    let mut stages = c.stages("stages", &r.stages);
    let mut lead_statuses = Vec::new();
    for (i, &s) in r.lead_statuses.iter().enumerate() {
        match pb::LeadStatus::try_from(s)
            .ok()
            .and_then(lead_status_from_proto)
        {
            Some(status) => lead_statuses.push(status),
            None => c.fail(
                &format!("lead_statuses[{i}]"),
                format!("{s} is not a lead status"),
            ),
        }
    }
    let permanent = match pb::ClientKind::try_from(r.kind) {
        Ok(pb::ClientKind::Unspecified) => None,
        Ok(pb::ClientKind::Prospect) => Some(false),
        Ok(pb::ClientKind::Permanent) => Some(true),
        Err(_) => {
            c.fail("kind", format!("{} is not a client kind", r.kind));
            None
        }
    };
    let owner = c.line("owner", &r.owner, SHORT_MAX, false);
    let owner = if r.assigned_to_me {
        if !owner.is_empty() && owner != caller.name {
            c.fail("owner", "contradicts assigned_to_me; give one or the other");
        }
        Some(caller.name.clone())
    } else {
        (!owner.is_empty()).then_some(owner)
    };
    let branch = c.line("branch", &r.branch, SHORT_MAX, false);
    // Repeats add nothing but query parameters.
    stages.sort_unstable();
    stages.dedup();
    lead_statuses.sort_unstable_by_key(|s| s.name());
    lead_statuses.dedup();
    ClientFilter {
        stages,
        permanent,
        owner,
        branch: (!branch.is_empty()).then_some(branch),
        lead_statuses,
        next_call_due_before: c.time("next_call_due_before", r.next_call_due_before.as_ref()),
        include_deleted: r.include_deleted,
        // Resolved against the catalogue by `resolve_catalog_filters`.
        status_ids: None,
        customer_type_ids: c.ids("customer_type_ids", &r.customer_type_ids, FILTER_IDS_MAX),
        include_ended: r.include_ended,
    }
}

/// Most ids one list filter may name.
const FILTER_IDS_MAX: usize = 200;

/// Turns the status, status-group and customer-type filters into status ids the store matches,
/// refusing ids the catalogue does not have (a typo would otherwise list nothing, silently).
async fn resolve_catalog_filters<S: Store>(
    store: &S,
    r: &pb::ListClientsRequest,
    filter: &mut ClientFilter,
) -> Result<(), Status> {
    if r.status_ids.is_empty() && r.status_group_ids.is_empty() && r.customer_type_ids.is_empty() {
        return Ok(());
    }
    let entries = store
        .catalog(&[
            CatalogKind::Status,
            CatalogKind::StatusGroup,
            CatalogKind::CustomerType,
        ])
        .await?;
    let catalog = Catalog { entries };
    let mut c = Check::default();
    let mut allowed: Option<Vec<i64>> = None;
    if !r.status_ids.is_empty() {
        for (i, &id) in r.status_ids.iter().enumerate() {
            if catalog.status(id).is_none() {
                c.fail(&format!("status_ids[{i}]"), format!("no status {id}"));
            }
        }
        allowed = Some(r.status_ids.clone());
    }
    if !r.status_group_ids.is_empty() {
        let mut members = Vec::new();
        for (i, &id) in r.status_group_ids.iter().enumerate() {
            match catalog.get(CatalogKind::StatusGroup, id) {
                Some(group) => members.extend_from_slice(&group.status_ids),
                None => c.fail(
                    &format!("status_group_ids[{i}]"),
                    format!("no status group {id}"),
                ),
            }
        }
        allowed = Some(match allowed {
            Some(named) => named
                .into_iter()
                .filter(|id| members.contains(id))
                .collect(),
            None => members,
        });
    }
    for (i, &id) in r.customer_type_ids.iter().enumerate() {
        if catalog.get(CatalogKind::CustomerType, id).is_none() {
            c.fail(
                &format!("customer_type_ids[{i}]"),
                format!("no customer type {id}"),
            );
        }
    }
    c.finish()?;
    filter.status_ids = allowed.map(|mut ids| {
        ids.sort_unstable();
        ids.dedup();
        ids
    });
    Ok(())
}

/// A short digest of a request with its paging fields cleared: what a page token is bound to.
fn query_digest<M: prost::Message>(query: &M, extra: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(query.encode_to_vec());
    hash.update(extra.as_bytes());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn bad_token() -> Status {
    DomainError::invalid(
        "page_token",
        "is not a token this query returned; start again without one",
    )
    .into()
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
        let mut c = Check::default();
        let filter = streams::event_filter(&r, &mut c);
        c.finish()?;
        let feed = self.streams.status.subscribe(r.after_sequence, filter);
        Ok(Response::new(feed.await?))
    }

    async fn stream_alerts(
        &self,
        request: Request<pb::StreamAlertsRequest>,
    ) -> Result<Response<Self::StreamAlertsStream>, Status> {
        let r = request.into_inner();
        let mut c = Check::default();
        let filter = streams::alert_filter(&r, &mut c);
        c.finish()?;
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
        let mut c = Check::default();
        let id = c.client_id("client_id", request.get_ref().client_id);
        c.finish()?;
        let client = self.store.get_client(id).await?;
        Ok(Response::new(pb::GetClientResponse {
            client: Some(client_to_proto(client)),
        }))
    }

    async fn list_clients(
        &self,
        request: Request<pb::ListClientsRequest>,
    ) -> Result<Response<pb::ListClientsResponse>, Status> {
        let caller = principal(&request);
        let r = request.into_inner();
        let mut c = Check::default();
        let mut filter = list_filter(&r, &caller, &mut c);
        // Checked for shape here; `resolve_catalog_filters` checks them against the catalogue.
        c.ids("status_ids", &r.status_ids, FILTER_IDS_MAX);
        c.ids("status_group_ids", &r.status_group_ids, FILTER_IDS_MAX);
        let limit = c.page_size(r.page_size, LIST_PAGE_DEFAULT, LIST_PAGE_MAX);
        c.finish()?;
        resolve_catalog_filters(&*self.store, &r, &mut filter).await?;
        let digest = query_digest(
            &pb::ListClientsRequest {
                page_size: 0,
                page_token: String::new(),
                ..r.clone()
            },
            &caller.name,
        );
        let after = if r.page_token.is_empty() {
            None
        } else {
            let position = decode_page_token(&r.page_token, &digest).ok_or_else(bad_token)?;
            Some(position.parse::<i64>().map_err(|_| bad_token())?)
        };
        let mut clients = self
            .store
            .list_clients(
                &filter,
                Page {
                    after,
                    limit: limit + 1,
                },
            )
            .await?;
        let next_page_token = if clients.len() as i64 > limit {
            clients.truncate(limit as usize);
            clients
                .last()
                .map(|c| encode_page_token(&digest, &c.client_id.to_string()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListClientsResponse {
            clients: clients.into_iter().map(client_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_client_history(
        &self,
        request: Request<pb::GetClientHistoryRequest>,
    ) -> Result<Response<pb::GetClientHistoryResponse>, Status> {
        let r = request.into_inner();
        let mut c = Check::default();
        let id = c.client_id("client_id", r.client_id);
        let limit = c.page_size(r.page_size, HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX);
        c.finish()?;
        let digest = query_digest(
            &pb::GetClientHistoryRequest {
                client_id: id,
                ..Default::default()
            },
            "",
        );
        let after = if r.page_token.is_empty() {
            None
        } else {
            let position = decode_page_token(&r.page_token, &digest).ok_or_else(bad_token)?;
            Some(parse_history_position(&position).ok_or_else(bad_token)?)
        };
        let mut entries = self
            .store
            .history(
                id,
                Page {
                    after,
                    limit: limit + 1,
                },
            )
            .await?;
        let next_page_token = if entries.len() as i64 > limit {
            entries.truncate(limit as usize);
            entries
                .last()
                .map(|e| encode_page_token(&digest, &history_position(e.occurred_at, e.entry_id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::GetClientHistoryResponse {
            entries: entries.into_iter().map(history_to_proto).collect(),
            next_page_token,
        }))
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
}

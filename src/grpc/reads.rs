//! ClientStatusService's reads: GetClient, ListClients and GetClientHistory. Lists are paged
//! with signed tokens and capped in bytes (see `page`).
use chrono::DateTime;

use crate::domain::filters::{OwnerConflict, owner_filter, status_filter};
use crate::domain::{Catalog, CatalogKind, Timestamp};
use crate::proto as pb;
use crate::store::{ClientFilter, Page, Store};

use super::auth::Principal;
use super::convert::{client_to_proto, history_to_proto};
use super::enums::{CLIENT_KINDS, LEAD_STATUSES, STAGES, choice, choices};
use super::page::{Filled, PageTokens, Query, fill};
use super::validate::{FILTER_IDS_MAX, Need, SHORT_MAX, client_id, ids, line, page_size, time};
use super::violations::{All, Violations, reason};

const LIST_PAGE_DEFAULT: usize = 50;
const LIST_PAGE_MAX: usize = 1_000;
const HISTORY_PAGE_DEFAULT: usize = 100;
const HISTORY_PAGE_MAX: usize = 1_000;

pub async fn get_client<S: Store>(
    store: &S,
    r: &pb::GetClientRequest,
) -> Result<pb::GetClientResponse, tonic::Status> {
    let id = client_id("client_id", r.client_id)?;
    let client = store.get_client(id).await?;
    // A merged number answers with its survivor, so callers holding it find the client.
    let (client, requested_client_id) = match client.merged_into {
        Some(survivor) => (store.get_client(survivor).await?, id),
        None => (client, 0),
    };
    Ok(pb::GetClientResponse {
        client: Some(client_to_proto(client)),
        requested_client_id,
    })
}

/// Whose clients: the named owner, or with `assigned_to_me` the caller's.
fn owner(r: &pb::ListClientsRequest, caller: &Principal) -> Result<Option<String>, Violations> {
    let owner = line("owner", &r.owner, SHORT_MAX, Need::Optional)?;
    owner_filter(&owner, r.assigned_to_me, &caller.name).map_err(|OwnerConflict| {
        Violations::one(
            "owner",
            reason::CONFLICTING_FIELDS,
            "contradicts assigned_to_me; give one or the other",
        )
    })
}

/// A ListClients request -> its filter (catalogue references not yet looked up) and size.
fn list_query(
    r: &pb::ListClientsRequest,
    caller: &Principal,
) -> Result<(ClientFilter, usize), Violations> {
    let (stages, lead_statuses, permanent, owner, branch, due_before, customer_types, listed) = (
        choices("stages", &r.stages, &STAGES),
        choices("lead_statuses", &r.lead_statuses, &LEAD_STATUSES),
        // UNSPECIFIED is allowed here: both kinds.
        choice("kind", r.kind, &CLIENT_KINDS),
        owner(r, caller),
        line("branch", &r.branch, SHORT_MAX, Need::Optional),
        time("next_call_due_before", r.next_call_due_before.as_ref()),
        ids("customer_type_ids", &r.customer_type_ids, FILTER_IDS_MAX),
        // Checked for shape here; `resolve_catalog_filters` checks them against the catalogue.
        (
            ids("status_ids", &r.status_ids, FILTER_IDS_MAX),
            ids("status_group_ids", &r.status_group_ids, FILTER_IDS_MAX),
            page_size(r.page_size, LIST_PAGE_DEFAULT, LIST_PAGE_MAX),
        )
            .all(),
    )
        .all()?;
    let filter = ClientFilter {
        stages,
        permanent,
        owner,
        branch: (!branch.is_empty()).then_some(branch),
        lead_statuses,
        next_call_due_before: due_before,
        include_deleted: r.include_deleted,
        // Resolved against the catalogue by `resolve_catalog_filters`.
        status_ids: None,
        customer_type_ids: customer_types,
        include_ended: r.include_ended,
        include_merged: r.include_merged,
    };
    Ok((filter, listed.2))
}

/// Turns the status and status-group filters into the status ids the store matches, refusing
/// ids the catalogue does not have (a typo would otherwise list nothing, silently).
async fn resolve_catalog_filters<S: Store>(
    store: &S,
    r: &pb::ListClientsRequest,
    filter: &mut ClientFilter,
) -> Result<(), tonic::Status> {
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
    let mut v = Violations::default();
    let mut unknown = |field: &str, ids: &[i64], kind: CatalogKind| {
        for (i, &id) in ids.iter().enumerate() {
            if catalog.get(kind, id).is_none() {
                v.push(
                    format!("{field}[{i}]"),
                    reason::UNKNOWN_REFERENCE,
                    format!("no {} {id}", kind.label()),
                );
            }
        }
    };
    unknown("status_ids", &r.status_ids, CatalogKind::Status);
    unknown(
        "status_group_ids",
        &r.status_group_ids,
        CatalogKind::StatusGroup,
    );
    unknown(
        "customer_type_ids",
        &r.customer_type_ids,
        CatalogKind::CustomerType,
    );
    v.into_result()?;
    let groups: Vec<&[i64]> = r
        .status_group_ids
        .iter()
        .filter_map(|&id| catalog.get(CatalogKind::StatusGroup, id))
        .map(|g| g.status_ids.as_slice())
        .collect();
    filter.status_ids = status_filter(&r.status_ids, &groups);
    Ok(())
}

pub async fn list_clients<S: Store>(
    store: &S,
    tokens: &PageTokens,
    caller: &Principal,
    r: &pb::ListClientsRequest,
) -> Result<pb::ListClientsResponse, tonic::Status> {
    let (mut filter, size) = list_query(r, caller)?;
    let query = Query::new(
        "ListClients",
        &caller.name,
        &pb::ListClientsRequest {
            page_size: 0,
            page_token: String::new(),
            ..r.clone()
        },
    );
    let after = match r.page_token.as_str() {
        "" => None,
        token => Some(list_position(&tokens.open(token, &query)?)?),
    };
    resolve_catalog_filters(store, r, &mut filter).await?;
    let Filled { items, next } = fill(
        size,
        after,
        |after, limit| store.list_clients(&filter, Page { after, limit }),
        |c| c.client_id,
        client_to_proto,
    )
    .await?;
    Ok(pb::ListClientsResponse {
        clients: items,
        next_page_token: next
            .map(|id| tokens.issue(&query, &id.to_be_bytes()))
            .unwrap_or_default(),
    })
}

pub async fn history<S: Store>(
    store: &S,
    tokens: &PageTokens,
    caller: &Principal,
    r: &pb::GetClientHistoryRequest,
) -> Result<pb::GetClientHistoryResponse, tonic::Status> {
    let (id, size) = (
        client_id("client_id", r.client_id),
        page_size(r.page_size, HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX),
    )
        .all()?;
    let query = Query::new(
        "GetClientHistory",
        &caller.name,
        &pb::GetClientHistoryRequest {
            client_id: id,
            include_merged: r.include_merged,
            ..Default::default()
        },
    );
    let after = match r.page_token.as_str() {
        "" => None,
        token => Some(history_position(&tokens.open(token, &query)?)?),
    };
    let Filled { items, next } = fill(
        size,
        after,
        |after, limit| async move {
            let page = Page { after, limit };
            if r.include_merged {
                store.history_with_merged(id, page).await
            } else {
                store.history(id, page).await
            }
        },
        |e| (e.occurred_at, e.entry_id),
        history_to_proto,
    )
    .await?;
    Ok(pb::GetClientHistoryResponse {
        entries: items,
        next_page_token: next
            .map(|(at, entry)| {
                let mut position = at.timestamp_micros().to_be_bytes().to_vec();
                position.extend_from_slice(&entry.to_be_bytes());
                tokens.issue(&query, &position)
            })
            .unwrap_or_default(),
    })
}

/// A signed position is one this server wrote, so these only fail on a token from a server
/// that wrote positions differently.
fn unreadable() -> Violations {
    Violations::one(
        "page_token",
        reason::PAGE_TOKEN_INVALID,
        "is from an incompatible server; start again without a token",
    )
}

fn list_position(bytes: &[u8]) -> Result<i64, Violations> {
    let id: [u8; 8] = bytes.try_into().map_err(|_| unreadable())?;
    Ok(i64::from_be_bytes(id))
}

fn history_position(bytes: &[u8]) -> Result<(Timestamp, i64), Violations> {
    let (at, id) = bytes.split_at_checked(8).ok_or_else(unreadable)?;
    let at: [u8; 8] = at.try_into().map_err(|_| unreadable())?;
    let id: [u8; 8] = id.try_into().map_err(|_| unreadable())?;
    let at = DateTime::from_timestamp_micros(i64::from_be_bytes(at)).ok_or_else(unreadable)?;
    Ok((at, i64::from_be_bytes(id)))
}

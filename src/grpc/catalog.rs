//! `StatusCatalogService`: the organisation's statuses, status groups and classification lists.
//! Changes go through the store's `execute` like every other mutation (idempotent by
//! request_id, one transaction); the rules live in `domain::catalog`.
use std::sync::Arc;

use tonic::{Code, Request, Response, Status};

use crate::domain::{CatalogKind, Entry};
use crate::proto as pb;
use crate::proto::status_catalog_service_server::StatusCatalogService;
use crate::store::Store;

use super::auth::principal;
use super::convert::{stage_to_proto, timestamp};
use super::enums::{CLASSIFICATION_KINDS, STAGES, choice, choices};
use super::requests::{MutationRequest, to_mutation};
use super::status::Rich;

pub struct StatusCatalogApi<S> {
    store: Arc<S>,
}

impl<S: Store> StatusCatalogApi<S> {
    pub fn new(store: Arc<S>) -> Self {
        StatusCatalogApi { store }
    }

    /// Runs a catalogue change; returns the entry it created, changed or deleted, and how many
    /// clients a deletion moved.
    async fn change<T: MutationRequest>(
        &self,
        request: Request<T>,
    ) -> Result<(Entry, i64), Status> {
        let caller = principal(&request);
        let mutation = to_mutation(request.get_ref(), &caller)?;
        let outcome = self.store.execute(mutation).await?;
        let entry = outcome.entry.ok_or_else(|| {
            Rich::new(
                Code::Internal,
                "INTERNAL",
                "catalogue change without an entry",
            )
        })?;
        tracing::info!(method = T::METHOD, caller = %caller.name, entry = %entry.subject(), moved = outcome.moved, "catalogue changed");
        Ok((entry, outcome.moved))
    }

    async fn list(&self, kinds: &[CatalogKind]) -> Result<Vec<Entry>, Status> {
        Ok(self.store.catalog(kinds).await?)
    }
}

fn status_to_proto(e: Entry) -> pb::CatalogStatus {
    pb::CatalogStatus {
        status_id: e.entry_id,
        stage: e.stage.map_or(pb::ClientStage::Unspecified, stage_to_proto) as i32,
        name: e.name,
        display_order: e.display_order,
        color: e.color,
        selectable_for_project: e.selectable_for_project,
        selectable_as_supplier: e.selectable_as_supplier,
        ended: e.ended,
        is_default: e.is_default,
        version: e.version,
        created_at: Some(timestamp(e.created_at)),
        updated_at: Some(timestamp(e.updated_at)),
    }
}

fn group_to_proto(e: Entry) -> pb::StatusGroup {
    pb::StatusGroup {
        status_group_id: e.entry_id,
        name: e.name,
        display_order: e.display_order,
        status_ids: e.status_ids,
        version: e.version,
        created_at: Some(timestamp(e.created_at)),
        updated_at: Some(timestamp(e.updated_at)),
    }
}

fn classification_kind_to_proto(kind: CatalogKind) -> pb::ClassificationKind {
    match kind {
        CatalogKind::CustomerType => pb::ClassificationKind::CustomerType,
        CatalogKind::Industry => pb::ClassificationKind::Industry,
        CatalogKind::HeadcountClass => pb::ClassificationKind::HeadcountClass,
        CatalogKind::Status | CatalogKind::StatusGroup => pb::ClassificationKind::Unspecified,
    }
}

fn classification_to_proto(e: Entry) -> pb::Classification {
    pb::Classification {
        classification_id: e.entry_id,
        kind: classification_kind_to_proto(e.kind) as i32,
        name: e.name,
        display_order: e.display_order,
        version: e.version,
        created_at: Some(timestamp(e.created_at)),
        updated_at: Some(timestamp(e.updated_at)),
    }
}

#[tonic::async_trait]
impl<S: Store> StatusCatalogService for StatusCatalogApi<S> {
    async fn create_status(
        &self,
        request: Request<pb::CreateStatusRequest>,
    ) -> Result<Response<pb::CreateStatusResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let status = status_to_proto(entry);
        Ok(Response::new(pb::CreateStatusResponse {
            status: Some(status),
        }))
    }

    async fn update_status(
        &self,
        request: Request<pb::UpdateStatusRequest>,
    ) -> Result<Response<pb::UpdateStatusResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let status = status_to_proto(entry);
        Ok(Response::new(pb::UpdateStatusResponse {
            status: Some(status),
        }))
    }

    async fn delete_status(
        &self,
        request: Request<pb::DeleteStatusRequest>,
    ) -> Result<Response<pb::DeleteStatusResponse>, Status> {
        let (entry, moved) = self.change(request).await?;
        let status = status_to_proto(entry);
        Ok(Response::new(pb::DeleteStatusResponse {
            status: Some(status),
            moved_clients: moved,
        }))
    }

    async fn list_statuses(
        &self,
        request: Request<pb::ListStatusesRequest>,
    ) -> Result<Response<pb::ListStatusesResponse>, Status> {
        let r = request.into_inner();
        let stages = choices("stages", &r.stages, &STAGES)?;
        let statuses = self
            .list(&[CatalogKind::Status])
            .await?
            .into_iter()
            .filter(|e| stages.is_empty() || e.stage.is_some_and(|s| stages.contains(&s)))
            .filter(|e| !(r.exclude_ended && e.ended))
            .map(status_to_proto)
            .collect();
        Ok(Response::new(pb::ListStatusesResponse { statuses }))
    }

    async fn create_status_group(
        &self,
        request: Request<pb::CreateStatusGroupRequest>,
    ) -> Result<Response<pb::CreateStatusGroupResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let group = group_to_proto(entry);
        Ok(Response::new(pb::CreateStatusGroupResponse {
            status_group: Some(group),
        }))
    }

    async fn update_status_group(
        &self,
        request: Request<pb::UpdateStatusGroupRequest>,
    ) -> Result<Response<pb::UpdateStatusGroupResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let group = group_to_proto(entry);
        Ok(Response::new(pb::UpdateStatusGroupResponse {
            status_group: Some(group),
        }))
    }

    async fn delete_status_group(
        &self,
        request: Request<pb::DeleteStatusGroupRequest>,
    ) -> Result<Response<pb::DeleteStatusGroupResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let group = group_to_proto(entry);
        Ok(Response::new(pb::DeleteStatusGroupResponse {
            status_group: Some(group),
        }))
    }

    async fn list_status_groups(
        &self,
        _request: Request<pb::ListStatusGroupsRequest>,
    ) -> Result<Response<pb::ListStatusGroupsResponse>, Status> {
        let status_groups = self
            .list(&[CatalogKind::StatusGroup])
            .await?
            .into_iter()
            .map(group_to_proto)
            .collect();
        Ok(Response::new(pb::ListStatusGroupsResponse {
            status_groups,
        }))
    }

    async fn create_classification(
        &self,
        request: Request<pb::CreateClassificationRequest>,
    ) -> Result<Response<pb::CreateClassificationResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let classification = classification_to_proto(entry);
        Ok(Response::new(pb::CreateClassificationResponse {
            classification: Some(classification),
        }))
    }

    async fn update_classification(
        &self,
        request: Request<pb::UpdateClassificationRequest>,
    ) -> Result<Response<pb::UpdateClassificationResponse>, Status> {
        let (entry, _) = self.change(request).await?;
        let classification = classification_to_proto(entry);
        Ok(Response::new(pb::UpdateClassificationResponse {
            classification: Some(classification),
        }))
    }

    async fn delete_classification(
        &self,
        request: Request<pb::DeleteClassificationRequest>,
    ) -> Result<Response<pb::DeleteClassificationResponse>, Status> {
        let (entry, moved) = self.change(request).await?;
        let classification = classification_to_proto(entry);
        Ok(Response::new(pb::DeleteClassificationResponse {
            classification: Some(classification),
            moved_clients: moved,
        }))
    }

    async fn list_classifications(
        &self,
        request: Request<pb::ListClassificationsRequest>,
    ) -> Result<Response<pb::ListClassificationsResponse>, Status> {
        let r = request.into_inner();
        // UNSPECIFIED lists all three.
        let kinds: Vec<CatalogKind> = if r.kind == pb::ClassificationKind::Unspecified as i32 {
            CLASSIFICATION_KINDS.map(|(_, kind)| kind).to_vec()
        } else {
            vec![choice("kind", r.kind, &CLASSIFICATION_KINDS)?]
        };
        let classifications = self
            .list(&kinds)
            .await?
            .into_iter()
            .map(classification_to_proto)
            .collect();
        Ok(Response::new(pb::ListClassificationsResponse {
            classifications,
        }))
    }
}

//! `StatusCatalogService`: the organisation's statuses, status groups and classification lists.
//! Changes go through the store's `execute` like every other mutation (idempotent by
//! request_id, one transaction); the rules live in `domain::catalog`.
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::domain::catalog::{Draft, GROUP_STATUSES_MAX, NAME_MAX, Patch};
use crate::domain::{CatalogCommand, CatalogKind, Command, Entry, Holders, Stage};
use crate::proto as pb;
use crate::proto::status_catalog_service_server::StatusCatalogService;
use crate::store::Store;

use super::auth::principal;
use super::convert::{stage_from_proto, stage_to_proto, timestamp};
use super::requests::{Envelope, MutationRequest, to_mutation};
use super::validate::Check;

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
        let entry = outcome
            .entry
            .ok_or_else(|| Status::internal("catalogue change without an entry"))?;
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

fn classification_kind_from_proto(kind: pb::ClassificationKind) -> Option<CatalogKind> {
    match kind {
        pb::ClassificationKind::CustomerType => Some(CatalogKind::CustomerType),
        pb::ClassificationKind::Industry => Some(CatalogKind::Industry),
        pb::ClassificationKind::HeadcountClass => Some(CatalogKind::HeadcountClass),
        pb::ClassificationKind::Unspecified => None,
    }
}

const CLASSIFICATIONS: [CatalogKind; 3] = [
    CatalogKind::CustomerType,
    CatalogKind::Industry,
    CatalogKind::HeadcountClass,
];

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

fn envelope(request_id: &str, expected_version: Option<i64>) -> Envelope<'_> {
    Envelope {
        request_id,
        occurred_at: None,
        actor: "",
        expected_version,
    }
}

fn name(c: &mut Check, value: &str) -> String {
    c.line("name", value, NAME_MAX, true)
}

fn optional_name(c: &mut Check, value: Option<&String>) -> Option<String> {
    value.map(|v| c.line("name", v, NAME_MAX, true))
}

fn display_order(c: &mut Check, value: Option<i32>) -> Option<i32> {
    if let Some(v) = value
        && v < 0
    {
        c.fail("display_order", "must be 0 or more");
    }
    value
}

fn color(c: &mut Check, value: &str) -> String {
    match crate::domain::catalog::normalize_color("color", value) {
        Ok(color) => color,
        Err(e) => {
            if let crate::domain::DomainError::InvalidArgument { violations, .. } = e {
                for v in violations {
                    c.fail(&v.field, v.description);
                }
            }
            String::new()
        }
    }
}

fn classification_kind(c: &mut Check, value: i32) -> CatalogKind {
    match pb::ClassificationKind::try_from(value)
        .ok()
        .and_then(classification_kind_from_proto)
    {
        Some(kind) => kind,
        None => {
            c.fail(
                "kind",
                format!("{value} is not a classification kind (customer type, industry or headcount class)"),
            );
            CatalogKind::CustomerType
        }
    }
}

/// Implements `MutationRequest` for a catalogue request.
macro_rules! catalog_request {
    ($t:ty, $method:literal, $version:expr, |$r:ident, $c:ident| $command:expr) => {
        impl MutationRequest for $t {
            const METHOD: &'static str = $method;
            fn envelope(&self) -> Envelope<'_> {
                let $r = self;
                envelope(&$r.request_id, $version)
            }
            fn command(&self, $c: &mut Check) -> Command {
                let $r = self;
                Command::Catalog($command)
            }
        }
    };
}

catalog_request!(pb::CreateStatusRequest, "CreateStatus", None, |r, c| {
    let stage = c.choice("stage", r.stage, |s: &pb::ClientStage| {
        stage_from_proto(*s).is_some()
    });
    CatalogCommand::Create(Draft {
        kind: CatalogKind::Status,
        name: name(c, &r.name),
        display_order: display_order(c, r.display_order),
        stage: Some(stage.and_then(stage_from_proto).unwrap_or(Stage::New)),
        color: (!r.color.is_empty()).then(|| color(c, &r.color)),
        selectable_for_project: r.selectable_for_project,
        selectable_as_supplier: r.selectable_as_supplier,
        ended: r.ended,
        status_ids: Vec::new(),
    })
});

catalog_request!(
    pb::UpdateStatusRequest,
    "UpdateStatus",
    r.expected_version,
    |r, c| CatalogCommand::Update {
        kind: CatalogKind::Status,
        entry_id: c.entry_id("status_id", r.status_id),
        patch: Patch {
            name: optional_name(c, r.name.as_ref()),
            display_order: display_order(c, r.display_order),
            color: r.color.as_deref().map(|v| color(c, v)),
            selectable_for_project: r.selectable_for_project,
            selectable_as_supplier: r.selectable_as_supplier,
            ended: r.ended,
            make_default: r.make_default,
            status_ids: None,
        },
    }
);

catalog_request!(
    pb::DeleteStatusRequest,
    "DeleteStatus",
    r.expected_version,
    |r, c| CatalogCommand::Delete {
        kind: CatalogKind::Status,
        entry_id: c.entry_id("status_id", r.status_id),
        holders: match c.optional_id("replacement_status_id", r.replacement_status_id) {
            Some(id) => Holders::MoveTo(id),
            None => Holders::Refuse,
        },
    }
);

catalog_request!(
    pb::CreateStatusGroupRequest,
    "CreateStatusGroup",
    None,
    |r, c| CatalogCommand::Create(Draft {
        kind: CatalogKind::StatusGroup,
        name: name(c, &r.name),
        display_order: display_order(c, r.display_order),
        stage: None,
        color: None,
        selectable_for_project: None,
        selectable_as_supplier: false,
        ended: None,
        status_ids: c.ids("status_ids", &r.status_ids, GROUP_STATUSES_MAX),
    })
);

catalog_request!(
    pb::UpdateStatusGroupRequest,
    "UpdateStatusGroup",
    r.expected_version,
    |r, c| CatalogCommand::Update {
        kind: CatalogKind::StatusGroup,
        entry_id: c.entry_id("status_group_id", r.status_group_id),
        patch: Patch {
            name: optional_name(c, r.name.as_ref()),
            display_order: display_order(c, r.display_order),
            status_ids: r.status_ids.as_ref().map(|s| c.ids(
                "status_ids.ids",
                &s.ids,
                GROUP_STATUSES_MAX
            )),
            ..Patch::default()
        },
    }
);

catalog_request!(
    pb::DeleteStatusGroupRequest,
    "DeleteStatusGroup",
    r.expected_version,
    |r, c| CatalogCommand::Delete {
        kind: CatalogKind::StatusGroup,
        entry_id: c.entry_id("status_group_id", r.status_group_id),
        holders: Holders::Refuse,
    }
);

catalog_request!(
    pb::CreateClassificationRequest,
    "CreateClassification",
    None,
    |r, c| CatalogCommand::Create(Draft {
        kind: classification_kind(c, r.kind),
        name: name(c, &r.name),
        display_order: display_order(c, r.display_order),
        stage: None,
        color: None,
        selectable_for_project: None,
        selectable_as_supplier: false,
        ended: None,
        status_ids: Vec::new(),
    })
);

// Classification ids are unique across the three lists, so an update or delete names only
// the id; the store finds its list.
catalog_request!(
    pb::UpdateClassificationRequest,
    "UpdateClassification",
    r.expected_version,
    |r, c| CatalogCommand::Update {
        kind: CatalogKind::CustomerType,
        entry_id: c.entry_id("classification_id", r.classification_id),
        patch: Patch {
            name: optional_name(c, r.name.as_ref()),
            display_order: display_order(c, r.display_order),
            ..Patch::default()
        },
    }
);

catalog_request!(
    pb::DeleteClassificationRequest,
    "DeleteClassification",
    r.expected_version,
    |r, c| CatalogCommand::Delete {
        kind: CatalogKind::CustomerType,
        entry_id: c.entry_id("classification_id", r.classification_id),
        holders: match (
            c.optional_id(
                "replacement_classification_id",
                r.replacement_classification_id,
            ),
            r.clear_references,
        ) {
            (Some(_), true) => {
                c.fail(
                    "clear_references",
                    "contradicts replacement_classification_id; give one or the other",
                );
                Holders::Refuse
            }
            (Some(id), false) => Holders::MoveTo(id),
            (None, true) => Holders::Clear,
            (None, false) => Holders::Refuse,
        },
    }
);

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
        let mut c = Check::default();
        let stages = c.stages("stages", &r.stages);
        c.finish()?;
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
        let kinds: Vec<CatalogKind> = match pb::ClassificationKind::try_from(r.kind) {
            Ok(pb::ClassificationKind::Unspecified) => CLASSIFICATIONS.to_vec(),
            Ok(kind) => classification_kind_from_proto(kind).into_iter().collect(),
            Err(_) => {
                let mut c = Check::default();
                c.fail("kind", format!("{} is not a classification kind", r.kind));
                c.finish()?;
                Vec::new()
            }
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

//! `ClientReportService`: the funnel and per-user activity counts for dashboards.
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto as pb;
use crate::proto::client_report_service_server::ClientReportService;
use crate::store::{ActivityQuery, CountFilter, Dimensions, Store};

use super::convert::stage_to_proto;
use super::validate::{Check, SHORT_MAX};

/// The longest period one activity report covers.
const ACTIVITY_DAYS_MAX: i64 = 366;
/// Real offsets from UTC lie within ±14 hours.
const OFFSET_MINUTES_MAX: i32 = 14 * 60;
/// Most causes one activity report may name.
const CAUSES_MAX: usize = 50;

pub struct ClientReportApi<S> {
    store: Arc<S>,
}

impl<S: Store> ClientReportApi<S> {
    pub fn new(store: Arc<S>) -> Self {
        ClientReportApi { store }
    }
}

fn dimensions(r: &pb::CountClientsRequest, c: &mut Check) -> Dimensions {
    let mut dims = Dimensions::default();
    for (i, &d) in r.group_by.iter().enumerate() {
        match pb::ReportDimension::try_from(d) {
            Ok(pb::ReportDimension::Stage) => dims.stage = true,
            Ok(pb::ReportDimension::Status) => dims.status = true,
            Ok(pb::ReportDimension::Owner) => dims.owner = true,
            _ => c.fail(
                &format!("group_by[{i}]"),
                format!("{d} is not a dimension (stage, status or owner)"),
            ),
        }
    }
    if r.group_by.is_empty() {
        dims.stage = true;
    }
    dims
}

#[tonic::async_trait]
impl<S: Store> ClientReportService for ClientReportApi<S> {
    async fn count_clients(
        &self,
        request: Request<pb::CountClientsRequest>,
    ) -> Result<Response<pb::CountClientsResponse>, Status> {
        let r = request.into_inner();
        let mut c = Check::default();
        let dims = dimensions(&r, &mut c);
        let stages = c.stages("stages", &r.stages);
        let owner = c.line("owner", &r.owner, SHORT_MAX, false);
        let branch = c.line("branch", &r.branch, SHORT_MAX, false);
        c.finish()?;
        let filter = CountFilter {
            stages,
            owner: (!owner.is_empty()).then_some(owner),
            branch: (!branch.is_empty()).then_some(branch),
            include_deleted: r.include_deleted,
        };
        let rows = self.store.count_clients(&filter, dims).await?;
        let total = rows.iter().map(|row| row.count).sum();
        let counts = rows
            .into_iter()
            .map(|row| pb::ClientCount {
                stage: row
                    .stage
                    .map_or(pb::ClientStage::Unspecified, stage_to_proto)
                    as i32,
                status_id: row.status_id.unwrap_or(0),
                owner: row.owner.unwrap_or_default(),
                count: row.count,
            })
            .collect();
        Ok(Response::new(pb::CountClientsResponse { counts, total }))
    }

    async fn count_activities(
        &self,
        request: Request<pb::CountActivitiesRequest>,
    ) -> Result<Response<pb::CountActivitiesResponse>, Status> {
        let r = request.into_inner();
        let mut c = Check::default();
        let from = c.required_time("from", r.from.as_ref());
        let to = c.required_time("to", r.to.as_ref());
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                c.fail("to", "must be after from");
            } else if to - from > chrono::Duration::days(ACTIVITY_DAYS_MAX) {
                c.fail(
                    "to",
                    format!("the period is at most {ACTIVITY_DAYS_MAX} days"),
                );
            }
        }
        if r.utc_offset_minutes.abs() > OFFSET_MINUTES_MAX {
            c.fail(
                "utc_offset_minutes",
                format!("must be within ±{OFFSET_MINUTES_MAX} minutes of UTC"),
            );
        }
        let actor = c.line("actor", &r.actor, SHORT_MAX, false);
        if r.causes.len() > CAUSES_MAX {
            c.fail("causes", format!("at most {CAUSES_MAX} causes"));
        }
        let causes: Vec<String> = r
            .causes
            .iter()
            .enumerate()
            .map(|(i, cause)| c.line(&format!("causes[{i}]"), cause, SHORT_MAX, true))
            .collect();
        c.finish()?;
        // `required_time` reported a missing time, so `finish` has already returned.
        let (Some(from), Some(to)) = (from, to) else {
            return Err(crate::domain::DomainError::invalid("from", "is required").into());
        };
        let query = ActivityQuery {
            from,
            to,
            utc_offset_minutes: r.utc_offset_minutes,
            actor: (!actor.is_empty()).then_some(actor),
            causes,
        };
        let counts = self
            .store
            .count_activities(&query)
            .await?
            .into_iter()
            .map(|a| pb::ActivityCount {
                actor: a.actor,
                day: a.day.format("%Y-%m-%d").to_string(),
                cause: a.cause,
                count: a.count,
            })
            .collect();
        Ok(Response::new(pb::CountActivitiesResponse { counts }))
    }
}

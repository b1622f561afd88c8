//! `ClientReportService`: the funnel and per-user activity counts for dashboards.
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto as pb;
use crate::proto::client_report_service_server::ClientReportService;
use crate::store::{ActivityQuery, CountFilter, Dimensions, Store};

use crate::domain::Timestamp;

use super::convert::stage_to_proto;
use super::enums::{DIMENSIONS, Dimension, STAGES, choices};
use super::validate::{Need, SHORT_MAX, count, line, required_time};
use super::violations::{All, Violations, reason};

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

/// A funnel query: which clients are counted, broken down by what.
struct CountQuery {
    filter: CountFilter,
    dims: Dimensions,
}

impl TryFrom<&pb::CountClientsRequest> for CountQuery {
    type Error = Violations;
    fn try_from(r: &pb::CountClientsRequest) -> Result<Self, Violations> {
        let (group_by, stages, owner, branch) = (
            choices("group_by", &r.group_by, &DIMENSIONS),
            choices("stages", &r.stages, &STAGES),
            line("owner", &r.owner, SHORT_MAX, Need::Optional),
            line("branch", &r.branch, SHORT_MAX, Need::Optional),
        )
            .all()?;
        let dims = Dimensions {
            // Grouped by nothing: by stage, the funnel.
            stage: group_by.is_empty() || group_by.contains(&Dimension::Stage),
            status: group_by.contains(&Dimension::Status),
            owner: group_by.contains(&Dimension::Owner),
        };
        Ok(CountQuery {
            filter: CountFilter {
                stages,
                owner: (!owner.is_empty()).then_some(owner),
                branch: (!branch.is_empty()).then_some(branch),
                include_deleted: r.include_deleted,
            },
            dims,
        })
    }
}

/// The period of an activity report: `from` before `to`, at most `ACTIVITY_DAYS_MAX` long.
fn period(r: &pb::CountActivitiesRequest) -> Result<(Timestamp, Timestamp), Violations> {
    period_between(r.from.as_ref(), r.to.as_ref())
}

/// A report's period (`from` and `to` fields): both given, `from` before `to`, at most
/// `ACTIVITY_DAYS_MAX` long.
pub(super) fn period_between(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
) -> Result<(Timestamp, Timestamp), Violations> {
    let (from, to) = (required_time("from", from), required_time("to", to)).all()?;
    if to <= from {
        return Err(Violations::one(
            "to",
            reason::VALUE_OUT_OF_RANGE,
            "must be after from",
        ));
    }
    if to - from > chrono::Duration::days(ACTIVITY_DAYS_MAX) {
        return Err(Violations::one(
            "to",
            reason::VALUE_OUT_OF_RANGE,
            format!("the period is at most {ACTIVITY_DAYS_MAX} days"),
        ));
    }
    Ok((from, to))
}

pub(super) fn utc_offset(minutes: i32) -> Result<i32, Violations> {
    // Not `abs()`: i32::MIN has no positive twin.
    if !(-OFFSET_MINUTES_MAX..=OFFSET_MINUTES_MAX).contains(&minutes) {
        return Err(Violations::one(
            "utc_offset_minutes",
            reason::VALUE_OUT_OF_RANGE,
            format!("must be within ±{OFFSET_MINUTES_MAX} minutes of UTC"),
        ));
    }
    Ok(minutes)
}

fn causes(values: &[String]) -> Result<Vec<String>, Violations> {
    count("causes", values.len(), CAUSES_MAX)?;
    let mut v = Violations::default();
    let causes = values
        .iter()
        .enumerate()
        .filter_map(|(i, c)| v.keep(line(&format!("causes[{i}]"), c, SHORT_MAX, Need::Required)))
        .collect();
    v.into_result().map(|()| causes)
}

impl TryFrom<&pb::CountActivitiesRequest> for ActivityQuery {
    type Error = Violations;
    fn try_from(r: &pb::CountActivitiesRequest) -> Result<Self, Violations> {
        let ((from, to), utc_offset_minutes, actor, causes) = (
            period(r),
            utc_offset(r.utc_offset_minutes),
            line("actor", &r.actor, SHORT_MAX, Need::Optional),
            causes(&r.causes),
        )
            .all()?;
        Ok(ActivityQuery {
            from,
            to,
            utc_offset_minutes,
            actor: (!actor.is_empty()).then_some(actor),
            causes,
        })
    }
}

#[tonic::async_trait]
impl<S: Store> ClientReportService for ClientReportApi<S> {
    async fn count_clients(
        &self,
        request: Request<pb::CountClientsRequest>,
    ) -> Result<Response<pb::CountClientsResponse>, Status> {
        let CountQuery { filter, dims } = CountQuery::try_from(request.get_ref())?;
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
        let query = ActivityQuery::try_from(request.get_ref())?;
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

    async fn stage_conversion(
        &self,
        request: Request<pb::StageConversionRequest>,
    ) -> Result<Response<pb::StageConversionResponse>, Status> {
        super::timeline_reports::stage_conversion(&*self.store, request.get_ref()).await
    }

    async fn time_in_stage(
        &self,
        request: Request<pb::TimeInStageRequest>,
    ) -> Result<Response<pb::TimeInStageResponse>, Status> {
        super::timeline_reports::time_in_stage(&*self.store, request.get_ref()).await
    }

    async fn stage_entries(
        &self,
        request: Request<pb::StageEntriesRequest>,
    ) -> Result<Response<pb::StageEntriesResponse>, Status> {
        super::timeline_reports::stage_entries(&*self.store, request.get_ref()).await
    }
}

//! The stage timeline's reports of `ClientReportService`: StageConversion, TimeInStage and
//! StageEntries (docs/timeline.md). Requests are checked field by field, all faults at once;
//! the store answers from the rows every write keeps.
use tonic::{Response, Status};

use crate::clock::{Clock, SystemClock};
use crate::proto as pb;
use crate::store::Store;
use crate::store::timeline::{
    Bucket, ConversionCount, ConversionQuery, EntriesQuery, Spread, StayQuery, TimelineGroup,
    TimelineScope,
};

use super::convert::{stage_to_proto, timestamp};
use super::enums::{STAGES, choice, choices};
use super::reports::{period_between, utc_offset};
use super::violations::{All, Violations, reason};

/// The longest "within N days" a conversion report asks about: ten years.
const WITHIN_DAYS_MAX: i32 = 3_660;

const GROUPS: [(pb::TimelineGroup, TimelineGroup); 4] = [
    (pb::TimelineGroup::Unspecified, TimelineGroup::None),
    (pb::TimelineGroup::Owner, TimelineGroup::Owner),
    (pb::TimelineGroup::Branch, TimelineGroup::Branch),
    (pb::TimelineGroup::RecordSource, TimelineGroup::RecordSource),
];

const BUCKETS: [(pb::TimeBucket, Bucket); 3] = [
    (pb::TimeBucket::Unspecified, Bucket::Day),
    (pb::TimeBucket::Day, Bucket::Day),
    (pb::TimeBucket::Week, Bucket::Week),
];

fn scope(
    from: Option<&prost_types::Timestamp>,
    to: Option<&prost_types::Timestamp>,
    group_by: i32,
    include_deleted: bool,
) -> Result<TimelineScope, Violations> {
    let ((from, to), group) = (
        period_between(from, to),
        choice("group_by", group_by, &GROUPS),
    )
        .all()?;
    Ok(TimelineScope {
        from,
        to,
        group,
        include_deleted,
    })
}

fn within_days(days: i32) -> Result<Option<chrono::Duration>, Violations> {
    match days {
        0 => Ok(None),
        1..=WITHIN_DAYS_MAX => Ok(Some(chrono::Duration::days(i64::from(days)))),
        _ => Err(Violations::one(
            "within_days",
            reason::VALUE_OUT_OF_RANGE,
            format!("must be 1..{WITHIN_DAYS_MAX} days, or 0 to leave it out"),
        )),
    }
}

impl TryFrom<&pb::StageConversionRequest> for ConversionQuery {
    type Error = Violations;
    fn try_from(r: &pb::StageConversionRequest) -> Result<Self, Violations> {
        let (scope, from_stage, to_stage, within) = (
            scope(
                r.from.as_ref(),
                r.to.as_ref(),
                r.group_by,
                r.include_deleted,
            ),
            choice("from_stage", r.from_stage, &STAGES),
            choice("to_stage", r.to_stage, &STAGES),
            within_days(r.within_days),
        )
            .all()?;
        if from_stage == to_stage {
            return Err(Violations::one(
                "to_stage",
                reason::CONFLICTING_FIELDS,
                "must be another stage than from_stage",
            ));
        }
        Ok(ConversionQuery {
            scope,
            from_stage,
            to_stage,
            within,
        })
    }
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn conversion(c: &ConversionCount) -> pb::StageConversion {
    pb::StageConversion {
        group: c.group.clone(),
        entered: c.entered,
        reached: c.reached,
        reached_rate: rate(c.reached, c.entered),
        reached_within: c.reached_within,
        reached_within_rate: rate(c.reached_within, c.entered),
    }
}

pub async fn stage_conversion<S: Store>(
    store: &S,
    r: &pb::StageConversionRequest,
) -> Result<Response<pb::StageConversionResponse>, Status> {
    let query = ConversionQuery::try_from(r)?;
    let rows = store.stage_conversion(&query).await?;
    let mut total = ConversionCount {
        group: String::new(),
        entered: 0,
        reached: 0,
        reached_within: 0,
    };
    for row in &rows {
        total.entered += row.entered;
        total.reached += row.reached;
        total.reached_within += row.reached_within;
    }
    Ok(Response::new(pb::StageConversionResponse {
        groups: rows.iter().map(conversion).collect(),
        total: Some(conversion(&total)),
    }))
}

/// Microseconds (a percentile may fall between two) as a google.protobuf.Duration.
fn duration(micros: f64) -> prost_types::Duration {
    let seconds = (micros / 1e6).floor();
    let nanos = ((micros - seconds * 1e6) * 1e3)
        .round()
        .clamp(0.0, 999_999_999.0);
    prost_types::Duration {
        seconds: seconds as i64,
        nanos: nanos as i32,
    }
}

fn durations(s: &Spread) -> (Option<prost_types::Duration>, Option<prost_types::Duration>) {
    if s.count == 0 {
        (None, None)
    } else {
        (Some(duration(s.median)), Some(duration(s.p90)))
    }
}

pub async fn time_in_stage<S: Store>(
    store: &S,
    r: &pb::TimeInStageRequest,
) -> Result<Response<pb::TimeInStageResponse>, Status> {
    let (scope, stages) = (
        scope(
            r.from.as_ref(),
            r.to.as_ref(),
            r.group_by,
            r.include_deleted,
        ),
        choices("stages", &r.stages, &STAGES),
    )
        .all()?;
    let as_of = SystemClock.now();
    let query = StayQuery {
        scope,
        stages,
        as_of,
    };
    let stays = store.time_in_stage(&query).await?;
    let stages = stays
        .into_iter()
        .map(|s| {
            let (median, p90) = durations(&s.left);
            let (still_in_median, still_in_p90) = durations(&s.still_in);
            pb::TimeInStage {
                stage: stage_to_proto(s.stage) as i32,
                group: s.group,
                left: s.left.count,
                median,
                p90,
                still_in: s.still_in.count,
                still_in_median,
                still_in_p90,
            }
        })
        .collect();
    Ok(Response::new(pb::TimeInStageResponse {
        stages,
        as_of: Some(timestamp(as_of)),
    }))
}

impl TryFrom<&pb::StageEntriesRequest> for EntriesQuery {
    type Error = Violations;
    fn try_from(r: &pb::StageEntriesRequest) -> Result<Self, Violations> {
        let (scope, utc_offset_minutes, bucket, stages) = (
            scope(
                r.from.as_ref(),
                r.to.as_ref(),
                r.group_by,
                r.include_deleted,
            ),
            utc_offset(r.utc_offset_minutes),
            choice("bucket", r.bucket, &BUCKETS),
            choices("stages", &r.stages, &STAGES),
        )
            .all()?;
        Ok(EntriesQuery {
            scope,
            utc_offset_minutes,
            bucket,
            stages,
            first_entries_only: r.first_entries_only,
        })
    }
}

pub async fn stage_entries<S: Store>(
    store: &S,
    r: &pb::StageEntriesRequest,
) -> Result<Response<pb::StageEntriesResponse>, Status> {
    let query = EntriesQuery::try_from(r)?;
    let counts = store
        .stage_entries(&query)
        .await?
        .into_iter()
        .map(|c| pb::StageEntryCount {
            stage: stage_to_proto(c.stage) as i32,
            day: c.day.format("%Y-%m-%d").to_string(),
            group: c.group,
            count: c.count,
        })
        .collect();
    Ok(Response::new(pb::StageEntriesResponse { counts }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_fractions_of_a_microsecond() {
        let d = duration(1_500_000.5);
        assert_eq!((d.seconds, d.nanos), (1, 500_000_500));
        assert_eq!(duration(0.0), prost_types::Duration::default());
    }

    #[test]
    fn within_days_is_optional_and_bounded() {
        assert_eq!(within_days(0), Ok(None));
        assert_eq!(within_days(30), Ok(Some(chrono::Duration::days(30))));
        for bad in [-1, WITHIN_DAYS_MAX + 1, i32::MIN] {
            let (kept, _) = within_days(bad).expect_err("out of range").into_parts();
            assert_eq!(kept[0].reason, reason::VALUE_OUT_OF_RANGE);
        }
    }
}

//! The stream subscription requests' filters, validated. The streams themselves are in
//! `crate::stream`.
use crate::proto as pb;
use crate::store::{AlertFilter, EventFilter};

use super::enums::{ALERT_KINDS, STAGES, choices};
use super::validate::{Need, SHORT_MAX, client_id, count, line};
use super::violations::{All, Violations};

/// Most values in one filter list.
const FILTER_MAX: usize = 100;

impl TryFrom<&pb::StreamStatusChangesRequest> for EventFilter {
    type Error = Violations;
    fn try_from(r: &pb::StreamStatusChangesRequest) -> Result<Self, Violations> {
        let (new_stages, causes, client_ids) = (
            choices("new_stages", &r.new_stages, &STAGES),
            causes(&r.causes),
            clients(&r.client_ids),
        )
            .all()?;
        Ok(EventFilter {
            new_stages,
            causes,
            client_ids,
        })
    }
}

impl TryFrom<&pb::StreamAlertsRequest> for AlertFilter {
    type Error = Violations;
    fn try_from(r: &pb::StreamAlertsRequest) -> Result<Self, Violations> {
        let (kinds, client_ids) = (
            choices("kinds", &r.kinds, &ALERT_KINDS),
            clients(&r.client_ids),
        )
            .all()?;
        Ok(AlertFilter { kinds, client_ids })
    }
}

fn causes(values: &[String]) -> Result<Vec<String>, Violations> {
    count("causes", values.len(), FILTER_MAX)?;
    let mut v = Violations::default();
    let causes = values
        .iter()
        .enumerate()
        .filter_map(|(i, c)| v.keep(line(&format!("causes[{i}]"), c, SHORT_MAX, Need::Required)))
        .collect();
    v.into_result().map(|()| causes)
}

fn clients(ids: &[i64]) -> Result<Vec<i64>, Violations> {
    count("client_ids", ids.len(), FILTER_MAX)?;
    let mut v = Violations::default();
    let clients = ids
        .iter()
        .enumerate()
        .filter_map(|(i, &id)| v.keep(client_id(&format!("client_ids[{i}]"), id)))
        .collect();
    v.into_result().map(|()| clients)
}

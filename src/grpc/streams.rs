//! The stream subscription requests' filters, validated. The streams themselves are in
//! `crate::stream`.
use crate::proto as pb;
use crate::store::{AlertFilter, EventFilter};

use super::convert::alert_kind_from_proto;
use super::validate::{Check, SHORT_MAX};

/// Most values in one filter list.
const FILTER_MAX: usize = 100;

pub fn event_filter(r: &pb::StreamStatusChangesRequest, c: &mut Check) -> EventFilter {
    let mut filter = EventFilter::default();
    if r.new_stages.len() > FILTER_MAX
        || r.causes.len() > FILTER_MAX
        || r.client_ids.len() > FILTER_MAX
    {
        c.fail("filters", format!("at most {FILTER_MAX} values per filter"));
    }
    filter.new_stages = c.stages("new_stages", &r.new_stages);
    for (i, cause) in r.causes.iter().enumerate() {
        filter
            .causes
            .push(c.line(&format!("causes[{i}]"), cause, SHORT_MAX, true));
    }
    for (i, &id) in r.client_ids.iter().enumerate() {
        filter
            .client_ids
            .push(c.client_id(&format!("client_ids[{i}]"), id));
    }
    filter
}

pub fn alert_filter(r: &pb::StreamAlertsRequest, c: &mut Check) -> AlertFilter {
    let mut filter = AlertFilter::default();
    if r.kinds.len() > FILTER_MAX || r.client_ids.len() > FILTER_MAX {
        c.fail("filters", format!("at most {FILTER_MAX} values per filter"));
    }
    for (i, &k) in r.kinds.iter().enumerate() {
        match pb::AlertKind::try_from(k)
            .ok()
            .and_then(alert_kind_from_proto)
        {
            Some(kind) => filter.kinds.push(kind),
            None => c.fail(&format!("kinds[{i}]"), format!("{k} is not an alert kind")),
        }
    }
    for (i, &id) in r.client_ids.iter().enumerate() {
        filter
            .client_ids
            .push(c.client_id(&format!("client_ids[{i}]"), id));
    }
    filter
}

//! Domain <-> proto conversions for records and enums.
use crate::domain::{AlertKind, StatusEvent};
use crate::domain::{CallOutcome, Client, LeadStatus, Stage, Timestamp};
use crate::proto as pb;
use crate::store::{AlertRecord, HistoryRecord, StatusEventRecord};

pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn opt_timestamp(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(timestamp)
}

pub fn stage_to_proto(s: Stage) -> pb::ClientStage {
    match s {
        Stage::New => pb::ClientStage::New,
        Stage::FollowUp => pb::ClientStage::FollowUp,
        Stage::FollowUpMeetingOrQuote => pb::ClientStage::FollowUpMeetingOrQuote,
        Stage::NotInterested => pb::ClientStage::NotInterested,
        Stage::Real => pb::ClientStage::Real,
        Stage::RealClubOrContract => pb::ClientStage::RealClubOrContract,
        Stage::Frozen => pb::ClientStage::Frozen,
    }
}

pub fn lead_status_to_proto(s: LeadStatus) -> pb::LeadStatus {
    match s {
        LeadStatus::Regular => pb::LeadStatus::Regular,
        LeadStatus::RecentlyCreated => pb::LeadStatus::RecentlyCreated,
        LeadStatus::Hot => pb::LeadStatus::Hot,
        LeadStatus::InterestedAgain => pb::LeadStatus::InterestedAgain,
    }
}

pub fn outcome_to_proto(o: CallOutcome) -> pb::CallOutcome {
    match o {
        CallOutcome::NoCallYet => pb::CallOutcome::NoCallYet,
        CallOutcome::NoAnswer => pb::CallOutcome::NoAnswer,
        CallOutcome::LeftMessage => pb::CallOutcome::LeftMessage,
        CallOutcome::ShortCall => pb::CallOutcome::ShortCall,
        CallOutcome::CallWithContent => pb::CallOutcome::CallWithContent,
    }
}

/// The seven stages' dates, in rank order, unset where the client never was.
fn stage_dates(t: &crate::domain::timeline::Timeline) -> Vec<pb::StageDates> {
    Stage::ALL
        .iter()
        .map(|&stage| {
            let d = t.dates_of(stage);
            pb::StageDates {
                stage: stage_to_proto(stage) as i32,
                first_entered_at: d.map(|d| timestamp(d.first_entered_at)),
                last_entered_at: d.map(|d| timestamp(d.last_entered_at)),
            }
        })
        .collect()
}

pub fn client_to_proto(c: Client) -> pb::Client {
    pb::Client {
        stage_dates: stage_dates(&c.timeline),
        client_id: c.client_id,
        recent_events_summary: c.recent_events_summary(),
        name: Some(pb::ClientName {
            last_name: c.name.last_name,
            first_name: c.name.first_name,
            middle_name: c.name.middle_name,
        }),
        branch: c.branch,
        owner: c.owner,
        email: c.email,
        phone: c.phone,
        external_lead_id: c.external_lead_id,
        parent_client_id: c.parent_client_id.unwrap_or(0),
        child_client_ids: c.child_client_ids,
        classifications: Some(pb::Classifications {
            customer_type_id: c.classifications.customer_type_id.unwrap_or(0),
            industry_id: c.classifications.industry_id.unwrap_or(0),
            headcount_class_id: c.classifications.headcount_class_id.unwrap_or(0),
        }),
        status_id: c.status_id,
        status_name: c.status_name,
        custom_properties: c.custom_properties,
        stage: stage_to_proto(c.stage) as i32,
        permanent: c.stage.is_permanent(),
        lead_status: lead_status_to_proto(c.lead_status) as i32,
        record_source: c.record_source,
        created_at: Some(timestamp(c.created_at)),
        created_by: c.created_by,
        last_call_at: opt_timestamp(c.last_call_at),
        last_call_by: c.last_call_by,
        last_call_outcome: outcome_to_proto(c.last_call_outcome) as i32,
        next_call_at: opt_timestamp(c.next_call_at),
        next_call_by: c.next_call_by,
        last_contact_at: opt_timestamp(c.last_contact_at),
        first_meeting_at: opt_timestamp(c.first_meeting_at),
        last_meeting_at: opt_timestamp(c.last_meeting_at),
        first_quote_at: opt_timestamp(c.first_quote_at),
        became_real_at: opt_timestamp(c.became_real_at),
        last_allocated_at: opt_timestamp(c.last_allocated_at),
        not_interested_reason: c.not_interested_reason,
        frozen_message: c.frozen_message,
        frozen_reason: c.frozen_reason,
        deleted_at: opt_timestamp(c.deleted_at),
        deleted_by: c.deleted_by,
        fictitious_reason: c.fictitious_reason,
        trading_account_ids: c.trading_account_ids,
        version: c.version,
        updated_at: Some(timestamp(c.updated_at)),
        merged_into_client_id: c.merged_into.unwrap_or(0),
        merged_at: opt_timestamp(c.merged_at),
        erased_at: opt_timestamp(c.erased_at),
        erased_by: c.erased_by,
    }
}

pub fn history_to_proto(h: HistoryRecord) -> pb::HistoryEntry {
    pb::HistoryEntry {
        entry_id: h.entry_id,
        client_id: h.client_id,
        version: h.version,
        cause: h.cause,
        actor: h.actor,
        principal: h.principal,
        occurred_at: Some(timestamp(h.occurred_at)),
        recorded_at: Some(timestamp(h.recorded_at)),
        old_stage: h
            .old_stage
            .map_or(pb::ClientStage::Unspecified, stage_to_proto) as i32,
        new_stage: stage_to_proto(h.new_stage) as i32,
        note: h.note,
        details: h.details,
        request_id: h.request_id,
    }
}

pub fn status_event_to_proto(e: StatusEventRecord) -> pb::StreamStatusChangesResponse {
    let kind = match e.kind {
        StatusEvent::StageChanged => pb::StatusEventKind::StageChanged,
        StatusEvent::StatusChanged => pb::StatusEventKind::StatusChanged,
        StatusEvent::Deleted => pb::StatusEventKind::Deleted,
        StatusEvent::Restored => pb::StatusEventKind::Restored,
        StatusEvent::Merged => pb::StatusEventKind::Merged,
        StatusEvent::Erased => pb::StatusEventKind::Erased,
    };
    let merged_into_client_id = match e.kind {
        StatusEvent::Merged => e.client.merged_into.unwrap_or(0),
        _ => 0,
    };
    pb::StreamStatusChangesResponse {
        event: Some(pb::StatusChangeEvent {
            sequence: e.seq,
            client_id: e.client_id,
            kind: kind as i32,
            old_stage: stage_to_proto(e.old_stage) as i32,
            new_stage: stage_to_proto(e.new_stage) as i32,
            old_status_id: e.old_status_id,
            new_status_id: e.new_status_id,
            merged_into_client_id,
            cause: e.cause,
            actor: e.actor,
            occurred_at: Some(timestamp(e.occurred_at)),
            recorded_at: Some(timestamp(e.recorded_at)),
            request_id: e.request_id,
            client: Some(client_to_proto(e.client)),
        }),
    }
}

pub fn alert_kind_to_proto(k: AlertKind) -> pb::AlertKind {
    match k {
        AlertKind::NextCallDue => pb::AlertKind::NextCallDue,
        AlertKind::HotLeadUntouched => pb::AlertKind::HotLeadUntouched,
        AlertKind::FollowUpStale => pb::AlertKind::FollowUpStale,
        AlertKind::InterestedAgain => pb::AlertKind::InterestedAgain,
        AlertKind::BecameReal => pb::AlertKind::BecameReal,
        AlertKind::Frozen => pb::AlertKind::Frozen,
    }
}

pub fn alert_to_proto(a: AlertRecord) -> pb::StreamAlertsResponse {
    pb::StreamAlertsResponse {
        alert: Some(pb::Alert {
            sequence: a.seq,
            kind: alert_kind_to_proto(a.kind) as i32,
            client_id: a.client_id,
            due_at: Some(timestamp(a.due_at)),
            raised_at: Some(timestamp(a.raised_at)),
            client: Some(client_to_proto(a.client)),
        }),
    }
}

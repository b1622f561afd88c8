//! Each mutating request -> a validated domain `Request`. Every field is checked here, with
//! all violations reported together; the rules themselves stay in `domain`.
use sha2::{Digest, Sha256};

use crate::domain::{
    AccountingDocument, Action, Channel, Classifications, ClientName, Command, DomainError,
    LeadStatus, Meta, NewClient, Request,
};
use crate::proto as pb;
use crate::store::Mutation;

use super::auth::Principal;
use super::convert::{lead_status_from_proto, outcome_from_proto, stage_from_proto};
use super::validate::{Check, ID_MAX, SHORT_MAX};

/// Most clients one SummarizeMeeting may name.
pub const MEETING_CLIENTS_MAX: usize = 100;
/// Most clients one Reassign (allocation wizard run) may name.
pub const REASSIGN_CLIENTS_MAX: usize = 1_000;

/// The fields every mutating request shares.
pub struct Envelope<'a> {
    pub request_id: &'a str,
    pub occurred_at: Option<&'a prost_types::Timestamp>,
    pub actor: &'a str,
    pub expected_version: Option<i64>,
}

pub trait MutationRequest: prost::Message + Sized {
    const METHOD: &'static str;
    fn envelope(&self) -> Envelope<'_>;
    fn command(&self, check: &mut Check) -> Command;
}

/// Validates `body` and wraps it with its idempotency fingerprint: method, caller and the
/// request's canonical encoding (maps are sorted, so equal requests encode equally).
pub fn to_mutation<T: MutationRequest>(
    body: &T,
    principal: &Principal,
) -> Result<Mutation, DomainError> {
    let mut check = Check::default();
    let env = body.envelope();
    let request_id = check.request_id(env.request_id);
    let occurred_at = check.time("occurred_at", env.occurred_at);
    let actor = check.line("actor", env.actor, SHORT_MAX, false);
    if let Some(v) = env.expected_version
        && v < 1
    {
        check.fail(
            "expected_version",
            "must be 1 or more (versions start at 1)",
        );
    }
    let command = body.command(&mut check);
    if let Command::Update { client_ids, .. } = &command
        && env.expected_version.is_some()
        && client_ids.len() > 1
    {
        check.fail(
            "expected_version",
            "applies to a single client; omit it when naming several",
        );
    }
    check.finish()?;

    let mut hash = Sha256::new();
    hash.update(T::METHOD.as_bytes());
    hash.update([0]);
    hash.update(principal.name.as_bytes());
    hash.update([0]);
    hash.update(body.encode_to_vec());
    Ok(Mutation {
        request: Request {
            meta: Meta {
                request_id,
                occurred_at,
                actor: principal.actor_for(&actor),
                principal: principal.name.clone(),
                expected_version: env.expected_version,
            },
            command,
        },
        fingerprint: hash.finalize().to_vec(),
    })
}

macro_rules! envelope {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            fn envelope_fields(&self) -> Envelope<'_> {
                Envelope {
                    request_id: &self.request_id,
                    occurred_at: self.occurred_at.as_ref(),
                    actor: &self.actor,
                    expected_version: self.expected_version,
                }
            }
        }
    )*};
}

envelope!(
    pb::RecordContactAttemptRequest,
    pb::RecordMessageSentRequest,
    pb::ScheduleMeetingRequest,
    pb::SummarizeMeetingRequest,
    pb::IssueQuoteRequest,
    pb::ApproveOrderRequest,
    pb::RecordInvoiceRequest,
    pb::RecordExtraPropertiesRequest,
    pb::OpenTradingAccountRequest,
    pb::RecordPaidServiceRequest,
    pb::DeclareNotInterestedRequest,
    pb::DeclareFrozenRequest,
    pb::DeclareFictitiousRequest,
    pb::RestoreClientRequest,
    pb::SetStatusRequest,
    pb::ReassignRequest,
);

/// Implements `MutationRequest` for a request naming one client by `client_id`.
macro_rules! single_client {
    ($t:ty, $method:literal, |$r:ident, $c:ident| $action:expr) => {
        impl MutationRequest for $t {
            const METHOD: &'static str = $method;
            fn envelope(&self) -> Envelope<'_> {
                self.envelope_fields()
            }
            fn command(&self, $c: &mut Check) -> Command {
                let $r = self;
                let client_id = $c.client_id("client_id", $r.client_id);
                Command::Update {
                    client_ids: vec![client_id],
                    action: $action,
                }
            }
        }
    };
}

impl MutationRequest for pb::CreateClientRequest {
    const METHOD: &'static str = "CreateClient";
    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            request_id: &self.request_id,
            occurred_at: self.occurred_at.as_ref(),
            actor: &self.actor,
            expected_version: None,
        }
    }
    fn command(&self, c: &mut Check) -> Command {
        let name = self.name.clone().unwrap_or_default();
        let class = self.classifications.unwrap_or_default();
        let lead_status = match pb::LeadStatus::try_from(self.lead_status) {
            Ok(pb::LeadStatus::Unspecified) => LeadStatus::Regular,
            Ok(s) => lead_status_from_proto(s).unwrap_or(LeadStatus::Regular),
            Err(_) => {
                c.fail(
                    "lead_status",
                    format!("{} is not a lead status", self.lead_status),
                );
                LeadStatus::Regular
            }
        };
        let parent = self.parent_client_id;
        if parent < 0 {
            c.fail("parent_client_id", "must be a client number, or 0 for none");
        }
        Command::Create(Box::new(NewClient {
            name: ClientName {
                last_name: c.line("name.last_name", &name.last_name, SHORT_MAX, true),
                first_name: c.line("name.first_name", &name.first_name, SHORT_MAX, false),
                middle_name: c.line("name.middle_name", &name.middle_name, SHORT_MAX, false),
            },
            branch: c.line("branch", &self.branch, SHORT_MAX, false),
            owner: c.line("owner", &self.owner, SHORT_MAX, false),
            email: c.email("email", &self.email),
            phone: c.phone("phone", &self.phone),
            external_lead_id: c.line("external_lead_id", &self.external_lead_id, ID_MAX, false),
            parent_client_id: (parent > 0).then_some(parent),
            classifications: Classifications {
                customer_type_id: c
                    .optional_id("classifications.customer_type_id", class.customer_type_id),
                industry_id: c.optional_id("classifications.industry_id", class.industry_id),
                headcount_class_id: c.optional_id(
                    "classifications.headcount_class_id",
                    class.headcount_class_id,
                ),
            },
            status_id: c.optional_id("status_id", self.status_id),
            custom_properties: c.properties("custom_properties", &self.custom_properties, false),
            lead_status,
            record_source: c.line("record_source", &self.record_source, SHORT_MAX, false),
        }))
    }
}

single_client!(
    pb::RecordContactAttemptRequest,
    "RecordContactAttempt",
    |r, c| {
        let outcome = c.choice("outcome", r.outcome, |o: &pb::CallOutcome| {
            outcome_from_proto(*o).is_some()
        });
        let next_call_by = c.line("next_call_by", &r.next_call_by, SHORT_MAX, false);
        if r.next_call_at.is_none() && !next_call_by.is_empty() {
            c.fail(
                "next_call_by",
                "names who makes the next call; give next_call_at too",
            );
        }
        Action::ContactAttempt {
            outcome: outcome
                .and_then(outcome_from_proto)
                .unwrap_or(crate::domain::CallOutcome::NoAnswer),
            note: c.note("note", &r.note, false),
            next_call_at: c.time("next_call_at", r.next_call_at.as_ref()),
            next_call_by: (!next_call_by.is_empty()).then_some(next_call_by),
        }
    }
);

single_client!(pb::RecordMessageSentRequest, "RecordMessageSent", |r, c| {
    let channel = c.choice("channel", r.channel, |ch: &pb::MessageChannel| {
        *ch != pb::MessageChannel::Unspecified
    });
    Action::MessageSent {
        channel: if channel == Some(pb::MessageChannel::Sms) {
            Channel::Sms
        } else {
            Channel::Email
        },
        note: c.note("note", &r.note, false),
    }
});

single_client!(pb::ScheduleMeetingRequest, "ScheduleMeeting", |r, c| {
    Action::ScheduleMeeting {
        meeting_at: c
            .required_time("meeting_at", r.meeting_at.as_ref())
            .unwrap_or_default(),
        note: c.note("note", &r.note, false),
    }
});

impl MutationRequest for pb::SummarizeMeetingRequest {
    const METHOD: &'static str = "SummarizeMeeting";
    fn envelope(&self) -> Envelope<'_> {
        self.envelope_fields()
    }
    fn command(&self, c: &mut Check) -> Command {
        Command::Update {
            client_ids: c.client_ids("client_ids", &self.client_ids, MEETING_CLIENTS_MAX),
            action: Action::SummarizeMeeting {
                note: c.note("note", &self.note, true),
            },
        }
    }
}

single_client!(pb::IssueQuoteRequest, "IssueQuote", |r, c| {
    Action::IssueQuote {
        quote_id: c.line("quote_id", &r.quote_id, ID_MAX, true),
        note: c.note("note", &r.note, false),
    }
});

single_client!(pb::ApproveOrderRequest, "ApproveOrder", |r, c| {
    Action::ApproveOrder {
        order_id: c.line("order_id", &r.order_id, ID_MAX, true),
        note: c.note("note", &r.note, false),
    }
});

single_client!(pb::RecordInvoiceRequest, "RecordInvoice", |r, c| {
    let kind = c.choice(
        "document_type",
        r.document_type,
        |d: &pb::AccountingDocumentType| *d != pb::AccountingDocumentType::Unspecified,
    );
    Action::RecordInvoice {
        document_type: match kind {
            Some(pb::AccountingDocumentType::Receipt) => AccountingDocument::Receipt,
            Some(pb::AccountingDocumentType::InvoiceReceipt) => AccountingDocument::InvoiceReceipt,
            _ => AccountingDocument::Invoice,
        },
        document_number: c.line("document_number", &r.document_number, ID_MAX, true),
        note: c.note("note", &r.note, false),
    }
});

single_client!(
    pb::RecordExtraPropertiesRequest,
    "RecordExtraProperties",
    |r, c| {
        if r.properties.is_empty() {
            c.fail("properties", "must name at least one property");
        }
        Action::RecordExtraProperties {
            properties: c.properties("properties", &r.properties, true),
        }
    }
);

single_client!(
    pb::OpenTradingAccountRequest,
    "OpenTradingAccount",
    |r, c| Action::OpenTradingAccount {
        trading_account_id: c.line("trading_account_id", &r.trading_account_id, ID_MAX, true),
        note: c.note("note", &r.note, false),
    }
);

single_client!(pb::RecordPaidServiceRequest, "RecordPaidService", |r, c| {
    Action::RecordPaidService {
        service_id: c.line("service_id", &r.service_id, ID_MAX, true),
        note: c.note("note", &r.note, false),
    }
});

single_client!(
    pb::DeclareNotInterestedRequest,
    "DeclareNotInterested",
    |r, c| Action::DeclareNotInterested {
        note: c.note("note", &r.note, true),
        reason_status_id: c.entry_id("reason_status_id", r.reason_status_id),
    }
);

single_client!(pb::DeclareFrozenRequest, "DeclareFrozen", |r, c| {
    Action::DeclareFrozen {
        frozen_message: c.note("frozen_message", &r.frozen_message, true),
        note: c.note("note", &r.note, true),
        reason_status_id: c.optional_id("reason_status_id", r.reason_status_id),
    }
});

single_client!(pb::DeclareFictitiousRequest, "DeclareFictitious", |r, c| {
    Action::DeclareFictitious {
        note: c.note("note", &r.note, true),
        fictitious_reason: c.note("fictitious_reason", &r.fictitious_reason, true),
    }
});

single_client!(pb::RestoreClientRequest, "RestoreClient", |r, c| {
    Action::Restore {
        note: c.note("note", &r.note, false),
    }
});

single_client!(pb::SetStatusRequest, "SetStatus", |r, c| {
    let status_id = c.optional_id("status_id", r.status_id);
    let stage = match pb::ClientStage::try_from(r.stage) {
        Ok(pb::ClientStage::Unspecified) if status_id.is_some() => None,
        Ok(s) if stage_from_proto(s).is_some() => stage_from_proto(s),
        _ => {
            c.fail(
                "stage",
                format!(
                    "{} is not a stage; name a stage, a status_id, or both",
                    r.stage
                ),
            );
            None
        }
    };
    Action::SetStatus {
        stage,
        status_id,
        reason: c.note("reason", &r.reason, true),
    }
});

impl MutationRequest for pb::ReassignRequest {
    const METHOD: &'static str = "Reassign";
    fn envelope(&self) -> Envelope<'_> {
        self.envelope_fields()
    }
    fn command(&self, c: &mut Check) -> Command {
        Command::Update {
            client_ids: c.client_ids("client_ids", &self.client_ids, REASSIGN_CLIENTS_MAX),
            action: Action::Reassign {
                new_owner: c.line("new_owner", &self.new_owner, SHORT_MAX, true),
                reset_stage: self.reset_stage.unwrap_or(true),
                note: c.note("note", &self.note, false),
            },
        }
    }
}

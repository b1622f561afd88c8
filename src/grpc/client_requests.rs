//! ClientStatusService's mutating requests -> domain commands, one `TryFrom` per request: the
//! events here, the manual declarations and Reassign in `declaration_requests`. A refusal lists
//! every bad field; nothing here decides a business rule.
use crate::domain::{Action, Classifications, ClientName, Command, NewClient, Timestamp};
use crate::proto as pb;

use super::enums::{CALL_OUTCOMES, CHANNELS, DOCUMENT_TYPES, NEW_LEAD_STATUSES, choice};
use super::requests::{Envelope, MutationRequest};
use super::validate::{self, ID_MAX, Need, SHORT_MAX, client_ids, line, note, optional_id};
use super::violations::{All, Violations, reason};

/// Most clients one SummarizeMeeting may name.
pub const MEETING_CLIENTS_MAX: usize = 100;

/// Wires a request naming one client by `client_id` to its `Action` parser.
macro_rules! single_client {
    ($($t:ty => $method:literal),* $(,)?) => {$(
        impl MutationRequest for $t {
            const METHOD: &'static str = $method;
            fn envelope(&self) -> Envelope<'_> {
                Envelope {
                    request_id: &self.request_id,
                    occurred_at: self.occurred_at.as_ref(),
                    actor: &self.actor,
                    expected_version: self.expected_version,
                }
            }
            fn command(&self) -> Result<Command, Violations> {
                let (client_id, action) = (
                    validate::client_id("client_id", self.client_id),
                    Action::try_from(self),
                )
                    .all()?;
                Ok(Command::Update {
                    client_ids: vec![client_id],
                    action,
                })
            }
        }
    )*};
}

single_client!(
    pb::RecordContactAttemptRequest => "RecordContactAttempt",
    pb::RecordMessageSentRequest => "RecordMessageSent",
    pb::ScheduleMeetingRequest => "ScheduleMeeting",
    pb::IssueQuoteRequest => "IssueQuote",
    pb::ApproveOrderRequest => "ApproveOrder",
    pb::RecordInvoiceRequest => "RecordInvoice",
    pb::RecordExtraPropertiesRequest => "RecordExtraProperties",
    pb::OpenTradingAccountRequest => "OpenTradingAccount",
    pb::RecordPaidServiceRequest => "RecordPaidService",
    pb::DeclareNotInterestedRequest => "DeclareNotInterested",
    pb::DeclareFrozenRequest => "DeclareFrozen",
    pb::DeclareFictitiousRequest => "DeclareFictitious",
    pb::RestoreClientRequest => "RestoreClient",
    pb::SetStatusRequest => "SetStatus",
);

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
    fn command(&self) -> Result<Command, Violations> {
        NewClient::try_from(self).map(|new| Command::Create(Box::new(new)))
    }
}

impl TryFrom<&pb::CreateClientRequest> for NewClient {
    type Error = Violations;
    fn try_from(r: &pb::CreateClientRequest) -> Result<Self, Violations> {
        // An absent message is an empty one (proto3): the missing last name is reported.
        let name = r.name.clone().unwrap_or_default();
        let short = |field, value| line(field, value, SHORT_MAX, Need::Optional);
        let (name, (branch, owner, email, phone), external_lead_id, parent_client_id, rest) = (
            client_name(&name),
            (
                short("branch", &r.branch),
                short("owner", &r.owner),
                validate::email("email", &r.email),
                validate::phone("phone", &r.phone),
            )
                .all(),
            line(
                "external_lead_id",
                &r.external_lead_id,
                ID_MAX,
                Need::Optional,
            ),
            optional_id("parent_client_id", r.parent_client_id),
            (
                classifications(&r.classifications.unwrap_or_default()),
                optional_id("status_id", r.status_id),
                validate::properties("custom_properties", &r.custom_properties, false),
                choice("lead_status", r.lead_status, &NEW_LEAD_STATUSES),
                short("record_source", &r.record_source),
            )
                .all(),
        )
            .all()?;
        let (classifications, status_id, custom_properties, lead_status, record_source) = rest;
        Ok(NewClient {
            name,
            branch,
            owner,
            email,
            phone,
            external_lead_id,
            parent_client_id,
            classifications,
            custom_properties,
            lead_status,
            record_source,
            status_id,
        })
    }
}

fn client_name(n: &pb::ClientName) -> Result<ClientName, Violations> {
    let (last_name, first_name, middle_name) = (
        line("name.last_name", &n.last_name, SHORT_MAX, Need::Required),
        line("name.first_name", &n.first_name, SHORT_MAX, Need::Optional),
        line(
            "name.middle_name",
            &n.middle_name,
            SHORT_MAX,
            Need::Optional,
        ),
    )
        .all()?;
    Ok(ClientName {
        last_name,
        first_name,
        middle_name,
    })
}

fn classifications(c: &pb::Classifications) -> Result<Classifications, Violations> {
    let (customer_type_id, industry_id, headcount_class_id) = (
        optional_id("classifications.customer_type_id", c.customer_type_id),
        optional_id("classifications.industry_id", c.industry_id),
        optional_id("classifications.headcount_class_id", c.headcount_class_id),
    )
        .all()?;
    Ok(Classifications {
        customer_type_id,
        industry_id,
        headcount_class_id,
    })
}

pub(super) fn optional_note(value: &str) -> Result<String, Violations> {
    note("note", value, Need::Optional)
}

fn document_id(field: &str, value: &str) -> Result<String, Violations> {
    line(field, value, ID_MAX, Need::Required)
}

/// The next call a contact attempt schedules: a time, and optionally who makes it.
fn next_call(
    r: &pb::RecordContactAttemptRequest,
) -> Result<(Option<Timestamp>, Option<String>), Violations> {
    let (at, by) = (
        validate::time("next_call_at", r.next_call_at.as_ref()),
        line("next_call_by", &r.next_call_by, SHORT_MAX, Need::Optional),
    )
        .all()?;
    if at.is_none() && !by.is_empty() {
        return Err(Violations::one(
            "next_call_by",
            reason::CONFLICTING_FIELDS,
            "names who makes the next call; give next_call_at too",
        ));
    }
    Ok((at, (!by.is_empty()).then_some(by)))
}

impl TryFrom<&pb::RecordContactAttemptRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::RecordContactAttemptRequest) -> Result<Self, Violations> {
        let (outcome, note, (next_call_at, next_call_by)) = (
            choice("outcome", r.outcome, &CALL_OUTCOMES),
            optional_note(&r.note),
            next_call(r),
        )
            .all()?;
        Ok(Action::ContactAttempt {
            outcome,
            note,
            next_call_at,
            next_call_by,
        })
    }
}

impl TryFrom<&pb::RecordMessageSentRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::RecordMessageSentRequest) -> Result<Self, Violations> {
        let (channel, note) = (
            choice("channel", r.channel, &CHANNELS),
            optional_note(&r.note),
        )
            .all()?;
        Ok(Action::MessageSent { channel, note })
    }
}

impl TryFrom<&pb::ScheduleMeetingRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::ScheduleMeetingRequest) -> Result<Self, Violations> {
        let (meeting_at, note) = (
            validate::required_time("meeting_at", r.meeting_at.as_ref()),
            optional_note(&r.note),
        )
            .all()?;
        Ok(Action::ScheduleMeeting { meeting_at, note })
    }
}

impl TryFrom<&pb::IssueQuoteRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::IssueQuoteRequest) -> Result<Self, Violations> {
        let (quote_id, note) =
            (document_id("quote_id", &r.quote_id), optional_note(&r.note)).all()?;
        Ok(Action::IssueQuote { quote_id, note })
    }
}

impl TryFrom<&pb::ApproveOrderRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::ApproveOrderRequest) -> Result<Self, Violations> {
        let (order_id, note) =
            (document_id("order_id", &r.order_id), optional_note(&r.note)).all()?;
        Ok(Action::ApproveOrder { order_id, note })
    }
}

impl TryFrom<&pb::RecordInvoiceRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::RecordInvoiceRequest) -> Result<Self, Violations> {
        let (document_type, document_number, note) = (
            choice("document_type", r.document_type, &DOCUMENT_TYPES),
            document_id("document_number", &r.document_number),
            optional_note(&r.note),
        )
            .all()?;
        Ok(Action::RecordInvoice {
            document_type,
            document_number,
            note,
        })
    }
}

impl TryFrom<&pb::RecordExtraPropertiesRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::RecordExtraPropertiesRequest) -> Result<Self, Violations> {
        if r.properties.is_empty() {
            return Err(Violations::one(
                "properties",
                reason::FIELD_REQUIRED,
                "must name at least one property",
            ));
        }
        let properties = validate::properties("properties", &r.properties, true)?;
        Ok(Action::RecordExtraProperties { properties })
    }
}

impl TryFrom<&pb::OpenTradingAccountRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::OpenTradingAccountRequest) -> Result<Self, Violations> {
        let (trading_account_id, note) = (
            document_id("trading_account_id", &r.trading_account_id),
            optional_note(&r.note),
        )
            .all()?;
        Ok(Action::OpenTradingAccount {
            trading_account_id,
            note,
        })
    }
}

impl TryFrom<&pb::RecordPaidServiceRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::RecordPaidServiceRequest) -> Result<Self, Violations> {
        let (service_id, note) = (
            document_id("service_id", &r.service_id),
            optional_note(&r.note),
        )
            .all()?;
        Ok(Action::RecordPaidService { service_id, note })
    }
}

impl MutationRequest for pb::SummarizeMeetingRequest {
    const METHOD: &'static str = "SummarizeMeeting";
    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            request_id: &self.request_id,
            occurred_at: self.occurred_at.as_ref(),
            actor: &self.actor,
            expected_version: self.expected_version,
        }
    }
    fn command(&self) -> Result<Command, Violations> {
        let (client_ids, note) = (
            client_ids("client_ids", &self.client_ids, MEETING_CLIENTS_MAX),
            note("note", &self.note, Need::Required),
        )
            .all()?;
        Ok(Command::Update {
            client_ids,
            action: Action::SummarizeMeeting { note },
        })
    }
}

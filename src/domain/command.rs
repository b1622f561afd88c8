//! The mutations callers ask for, already validated field by field at the edge.
use std::collections::BTreeMap;

use super::client::{CallOutcome, Classifications, ClientName, LeadStatus, Timestamp};
use super::stage::Stage;

/// Who asks, when it happened, and the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub request_id: String,
    /// When it happened; `None` means now.
    pub occurred_at: Option<Timestamp>,
    /// The user the change is recorded for (`created_by`, `last_call_by`, the history's actor).
    pub actor: String,
    /// The authenticated caller that sent it.
    pub principal: String,
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    pub name: ClientName,
    pub branch: String,
    pub owner: String,
    pub email: String,
    pub phone: String,
    pub external_lead_id: String,
    pub parent_client_id: Option<i64>,
    pub classifications: Classifications,
    pub custom_properties: BTreeMap<String, String>,
    pub lead_status: LeadStatus,
    pub record_source: String,
    /// A NEW status to start in; absent: NEW's default.
    pub status_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountingDocument {
    Invoice,
    Receipt,
    InvoiceReceipt,
}

/// A change to existing clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ContactAttempt {
        outcome: CallOutcome,
        note: String,
        next_call_at: Option<Timestamp>,
        next_call_by: Option<String>,
    },
    MessageSent {
        channel: Channel,
        note: String,
    },
    ScheduleMeeting {
        meeting_at: Timestamp,
        note: String,
    },
    SummarizeMeeting {
        note: String,
    },
    IssueQuote {
        quote_id: String,
        note: String,
    },
    ApproveOrder {
        order_id: String,
        note: String,
    },
    RecordInvoice {
        document_type: AccountingDocument,
        document_number: String,
        note: String,
    },
    RecordExtraProperties {
        properties: BTreeMap<String, String>,
    },
    OpenTradingAccount {
        trading_account_id: String,
        note: String,
    },
    RecordPaidService {
        service_id: String,
        note: String,
    },
    DeclareNotInterested {
        note: String,
        /// A NOT_INTERESTED status of the catalogue: why.
        reason_status_id: i64,
    },
    DeclareFrozen {
        frozen_message: String,
        note: String,
        /// A FROZEN status of the catalogue: why the relationship ended (absent: the default).
        reason_status_id: Option<i64>,
    },
    DeclareFictitious {
        note: String,
        fictitious_reason: String,
    },
    Restore {
        note: String,
    },
    /// The manager's override: a stage (its default status unless `status_id` names one of
    /// it), or a status (its stage follows).
    SetStatus {
        stage: Option<Stage>,
        status_id: Option<i64>,
        reason: String,
    },
    Reassign {
        new_owner: String,
        reset_stage: bool,
        note: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Create(Box<NewClient>),
    Update {
        client_ids: Vec<i64>,
        action: Action,
    },
    /// UpdateClient, MergeClients, EraseClient: the card over time (`domain::card`).
    Card(super::card::CardCommand),
}

impl Command {
    /// How many clients the command names (a new client counts as one).
    pub fn client_count(&self) -> usize {
        match self {
            Command::Create(_) => 1,
            Command::Update { client_ids, .. } => client_ids.len(),
            // A merge's expected_version is the survivor's.
            Command::Card(_) => 1,
        }
    }
}

/// A request: who asks, when, under which idempotency key, and what: a client command, or a
/// change to the organisation's catalogue (`Request<CatalogCommand>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<C = Command> {
    pub meta: Meta,
    pub command: C,
}

/// A business document is a natural key: recorded twice, it changes nothing the second time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentKey {
    pub kind: &'static str,
    pub id: String,
}

impl Action {
    /// The RPC name, recorded as the history entry's cause.
    pub fn cause(&self) -> &'static str {
        match self {
            Action::ContactAttempt { .. } => "RecordContactAttempt",
            Action::MessageSent { .. } => "RecordMessageSent",
            Action::ScheduleMeeting { .. } => "ScheduleMeeting",
            Action::SummarizeMeeting { .. } => "SummarizeMeeting",
            Action::IssueQuote { .. } => "IssueQuote",
            Action::ApproveOrder { .. } => "ApproveOrder",
            Action::RecordInvoice { .. } => "RecordInvoice",
            Action::RecordExtraProperties { .. } => "RecordExtraProperties",
            Action::OpenTradingAccount { .. } => "OpenTradingAccount",
            Action::RecordPaidService { .. } => "RecordPaidService",
            Action::DeclareNotInterested { .. } => "DeclareNotInterested",
            Action::DeclareFrozen { .. } => "DeclareFrozen",
            Action::DeclareFictitious { .. } => "DeclareFictitious",
            Action::Restore { .. } => "RestoreClient",
            Action::SetStatus { .. } => "SetStatus",
            Action::Reassign { .. } => "Reassign",
        }
    }

    /// The business document this action records, if any.
    pub fn document(&self) -> Option<DocumentKey> {
        let (kind, id) = match self {
            Action::IssueQuote { quote_id, .. } => ("QUOTE", quote_id),
            Action::ApproveOrder { order_id, .. } => ("ORDER", order_id),
            Action::RecordInvoice {
                document_type,
                document_number,
                ..
            } => (
                match document_type {
                    AccountingDocument::Invoice => "INVOICE",
                    AccountingDocument::Receipt => "RECEIPT",
                    AccountingDocument::InvoiceReceipt => "INVOICE_RECEIPT",
                },
                document_number,
            ),
            Action::OpenTradingAccount {
                trading_account_id, ..
            } => ("TRADING_ACCOUNT", trading_account_id),
            Action::RecordPaidService { service_id, .. } => ("PAID_SERVICE", service_id),
            _ => return None,
        };
        Some(DocumentKey {
            kind,
            id: id.clone(),
        })
    }
}

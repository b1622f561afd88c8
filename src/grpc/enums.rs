//! The proto enums a caller may send, each with the domain value it stands for. A table is the
//! whole list of allowed values: `choice` looks a number up in it, and a refusal lists it.
use crate::domain::{
    AccountingDocument, AlertKind, CallOutcome, CatalogKind, Channel, LeadStatus, Stage,
};
use crate::proto as pb;

use super::validate::count;
use super::violations::{Violations, reason};

/// Most values in a list of enum values (stages, lead statuses, dimensions, alert kinds).
/// Repeats are collapsed, so real filters stay far below it.
pub const ENUM_LIST_MAX: usize = 100;

/// A proto enum whose values have names callers can read (`CALL_OUTCOME_NO_ANSWER`).
pub trait EnumName: Copy + PartialEq + TryFrom<i32> {
    fn name(self) -> &'static str;
}

macro_rules! enum_names {
    ($($t:ty),* $(,)?) => {$(
        impl EnumName for $t {
            fn name(self) -> &'static str {
                self.as_str_name()
            }
        }
    )*};
}

enum_names!(
    pb::ClientStage,
    pb::LeadStatus,
    pb::CallOutcome,
    pb::MessageChannel,
    pb::AccountingDocumentType,
    pb::ClientKind,
    pb::ClassificationKind,
    pb::ReportDimension,
    pb::AlertKind,
    pb::TimelineGroup,
    pb::TimeBucket,
);

/// The seven stages (UNSPECIFIED is not a stage).
pub const STAGES: [(pb::ClientStage, Stage); 7] = [
    (pb::ClientStage::New, Stage::New),
    (pb::ClientStage::FollowUp, Stage::FollowUp),
    (
        pb::ClientStage::FollowUpMeetingOrQuote,
        Stage::FollowUpMeetingOrQuote,
    ),
    (pb::ClientStage::NotInterested, Stage::NotInterested),
    (pb::ClientStage::Real, Stage::Real),
    (
        pb::ClientStage::RealClubOrContract,
        Stage::RealClubOrContract,
    ),
    (pb::ClientStage::Frozen, Stage::Frozen),
];

pub const LEAD_STATUSES: [(pb::LeadStatus, LeadStatus); 4] = [
    (pb::LeadStatus::Regular, LeadStatus::Regular),
    (pb::LeadStatus::RecentlyCreated, LeadStatus::RecentlyCreated),
    (pb::LeadStatus::Hot, LeadStatus::Hot),
    (pb::LeadStatus::InterestedAgain, LeadStatus::InterestedAgain),
];

/// A new lead's status: UNSPECIFIED means REGULAR.
pub const NEW_LEAD_STATUSES: [(pb::LeadStatus, LeadStatus); 5] = [
    (pb::LeadStatus::Unspecified, LeadStatus::Regular),
    LEAD_STATUSES[0],
    LEAD_STATUSES[1],
    LEAD_STATUSES[2],
    LEAD_STATUSES[3],
];

/// The outcomes a caller reports (NO_CALL_YET is only ever the service's own).
pub const CALL_OUTCOMES: [(pb::CallOutcome, CallOutcome); 4] = [
    (pb::CallOutcome::NoAnswer, CallOutcome::NoAnswer),
    (pb::CallOutcome::LeftMessage, CallOutcome::LeftMessage),
    (pb::CallOutcome::ShortCall, CallOutcome::ShortCall),
    (
        pb::CallOutcome::CallWithContent,
        CallOutcome::CallWithContent,
    ),
];

pub const CHANNELS: [(pb::MessageChannel, Channel); 2] = [
    (pb::MessageChannel::Email, Channel::Email),
    (pb::MessageChannel::Sms, Channel::Sms),
];

pub const DOCUMENT_TYPES: [(pb::AccountingDocumentType, AccountingDocument); 3] = [
    (
        pb::AccountingDocumentType::Invoice,
        AccountingDocument::Invoice,
    ),
    (
        pb::AccountingDocumentType::Receipt,
        AccountingDocument::Receipt,
    ),
    (
        pb::AccountingDocumentType::InvoiceReceipt,
        AccountingDocument::InvoiceReceipt,
    ),
];

/// Prospects, permanent clients, or (UNSPECIFIED) both: `Some(true)` is permanent only.
pub const CLIENT_KINDS: [(pb::ClientKind, Option<bool>); 3] = [
    (pb::ClientKind::Unspecified, None),
    (pb::ClientKind::Prospect, Some(false)),
    (pb::ClientKind::Permanent, Some(true)),
];

pub const CLASSIFICATION_KINDS: [(pb::ClassificationKind, CatalogKind); 3] = [
    (
        pb::ClassificationKind::CustomerType,
        CatalogKind::CustomerType,
    ),
    (pb::ClassificationKind::Industry, CatalogKind::Industry),
    (
        pb::ClassificationKind::HeadcountClass,
        CatalogKind::HeadcountClass,
    ),
];

/// What a funnel count may be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Stage,
    Status,
    Owner,
}

pub const DIMENSIONS: [(pb::ReportDimension, Dimension); 3] = [
    (pb::ReportDimension::Stage, Dimension::Stage),
    (pb::ReportDimension::Status, Dimension::Status),
    (pb::ReportDimension::Owner, Dimension::Owner),
];

pub const ALERT_KINDS: [(pb::AlertKind, AlertKind); 6] = [
    (pb::AlertKind::NextCallDue, AlertKind::NextCallDue),
    (pb::AlertKind::HotLeadUntouched, AlertKind::HotLeadUntouched),
    (pb::AlertKind::FollowUpStale, AlertKind::FollowUpStale),
    (pb::AlertKind::InterestedAgain, AlertKind::InterestedAgain),
    (pb::AlertKind::BecameReal, AlertKind::BecameReal),
    (pb::AlertKind::Frozen, AlertKind::Frozen),
];

/// One value of a proto enum the caller must choose, among `allowed`; a refusal lists the
/// allowed names. 0 (UNSPECIFIED, what an unset field reads as) is missing, unless allowed.
pub fn choice<E: EnumName, T: Copy>(
    field: &str,
    value: i32,
    allowed: &[(E, T)],
) -> Result<T, Violations> {
    lookup(field, value, allowed, true)
}

fn lookup<E: EnumName, T: Copy>(
    field: &str,
    value: i32,
    allowed: &[(E, T)],
    zero_is_unset: bool,
) -> Result<T, Violations> {
    let named = E::try_from(value).ok();
    if let Some((_, t)) = allowed.iter().find(|(e, _)| Some(*e) == named) {
        return Ok(*t);
    }
    let names: Vec<&str> = allowed.iter().map(|(e, _)| e.name()).collect();
    let names = names.join(", ");
    Err(if value == 0 && zero_is_unset {
        Violations::one(
            field,
            reason::FIELD_REQUIRED,
            format!("is required; use one of {names}"),
        )
    } else {
        Violations::one(
            field,
            reason::UNKNOWN_ENUM_VALUE,
            format!("{value} is not allowed here; use one of {names}"),
        )
    })
}

/// A list of enum values (a filter): at most `ENUM_LIST_MAX`, each allowed; repeats collapse.
pub fn choices<E: EnumName, T: Copy + PartialEq>(
    field: &str,
    values: &[i32],
    allowed: &[(E, T)],
) -> Result<Vec<T>, Violations> {
    count(field, values.len(), ENUM_LIST_MAX)?;
    let mut v = Violations::default();
    let mut out = Vec::with_capacity(values.len());
    for (i, &value) in values.iter().enumerate() {
        if let Some(t) = v.keep(lookup(&format!("{field}[{i}]"), value, allowed, false))
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    v.into_result().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons<T: std::fmt::Debug>(r: Result<T, Violations>) -> Vec<&'static str> {
        let (kept, _) = r.expect_err("refused").into_parts();
        kept.into_iter().map(|v| v.reason).collect()
    }

    #[test]
    fn a_long_list_is_refused_before_its_values_are_looked_at() {
        let many = vec![99; 40_000];
        let (kept, dropped) = choices("stages", &many, &STAGES)
            .expect_err("too many")
            .into_parts();
        assert_eq!((kept.len(), dropped), (1, 0));
        assert_eq!(kept[0].reason, "TOO_MANY_VALUES");
        assert!(kept[0].description.contains("at most 100"), "{kept:?}");
    }

    #[test]
    fn an_enum_refusal_lists_the_allowed_values() {
        assert_eq!(reasons(choice("stage", 0, &STAGES)), ["FIELD_REQUIRED"]);
        let (kept, _) = choice("stage", 42, &STAGES).expect_err("42").into_parts();
        assert_eq!(kept[0].reason, "UNKNOWN_ENUM_VALUE");
        assert!(
            kept[0].description.contains("CLIENT_STAGE_NEW")
                && kept[0].description.contains("CLIENT_STAGE_FROZEN"),
            "{}",
            kept[0].description
        );
        assert!(!kept[0].description.contains("UNSPECIFIED"));
    }

    #[test]
    fn enum_lists_collapse_repeats() {
        assert_eq!(choices("s", &[1, 1, 2], &STAGES).map(|s| s.len()), Ok(2));
    }

    use crate::grpc::convert::{alert_kind_to_proto, lead_status_to_proto, stage_to_proto};

    #[test]
    fn the_tables_agree_with_the_conversions_back_to_proto() {
        for (p, s) in STAGES {
            assert_eq!(stage_to_proto(s), p);
        }
        for (p, s) in LEAD_STATUSES {
            assert_eq!(lead_status_to_proto(s), p);
        }
        for (p, k) in ALERT_KINDS {
            assert_eq!(alert_kind_to_proto(k), p);
        }
        assert_eq!(AlertKind::ALL.len(), ALERT_KINDS.len());
    }
}

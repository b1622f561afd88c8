//! Which clients a search lists: the rules that decide what a filter means (the stages it
//! names, whether ended statuses are hidden), which the store only turns into SQL.
use super::client::{LeadStatus, Timestamp};
use super::stage::Stage;

/// ListClients filters, already validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    pub stages: Vec<Stage>,
    /// `Some(true)`: permanent clients only; `Some(false)`: prospects only.
    pub permanent: Option<bool>,
    pub owner: Option<String>,
    pub branch: Option<String>,
    pub lead_statuses: Vec<LeadStatus>,
    pub next_call_due_before: Option<Timestamp>,
    pub include_deleted: bool,
    /// `Some`: only these statuses (named by the caller directly or through groups, so ended
    /// ones among them are listed). An empty list matches nothing.
    pub status_ids: Option<Vec<i64>>,
    pub customer_type_ids: Vec<i64>,
    /// List clients in ended statuses too (see `hides_ended`).
    pub include_ended: bool,
    /// List clients merged into another too (MergeClients).
    pub include_merged: bool,
}

impl ClientFilter {
    /// Clients in ended statuses are left out of a search that restricts neither the status
    /// (by status or group), nor the stage (by stage or prospect/permanent), nor asks for them:
    /// a search that names a stage names its statuses. Ended clients are the ones the sales
    /// team is done with, so they stay out even of a search that restricts nothing at all.
    pub fn hides_ended(&self) -> bool {
        !self.include_ended
            && self.status_ids.is_none()
            && self.stages.is_empty()
            && self.permanent.is_none()
    }

    /// The stages a listed client may be in, after the prospect/permanent filter narrows the
    /// asked ones. `None`: no stage filter; an empty list: nothing can match.
    pub fn stages_to_match(&self) -> Option<Vec<Stage>> {
        match self.permanent {
            None if self.stages.is_empty() => None,
            None => Some(self.stages.clone()),
            Some(p) => Some(
                Stage::ALL
                    .into_iter()
                    .filter(|s| {
                        s.is_permanent() == p && (self.stages.is_empty() || self.stages.contains(s))
                    })
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_filter_narrows_the_asked_stages() {
        let prospects = ClientFilter {
            permanent: Some(false),
            stages: vec![Stage::New, Stage::Real],
            ..ClientFilter::default()
        };
        assert_eq!(prospects.stages_to_match(), Some(vec![Stage::New]));
        let permanent = ClientFilter {
            permanent: Some(true),
            ..ClientFilter::default()
        };
        assert_eq!(
            permanent.stages_to_match(),
            Some(vec![Stage::Real, Stage::RealClubOrContract, Stage::Frozen])
        );
        let contradiction = ClientFilter {
            permanent: Some(true),
            stages: vec![Stage::New],
            ..ClientFilter::default()
        };
        assert_eq!(contradiction.stages_to_match(), Some(vec![]));
        assert_eq!(ClientFilter::default().stages_to_match(), None);
    }

    #[test]
    fn ended_statuses_are_hidden_only_from_an_unrestricted_search() {
        assert!(ClientFilter::default().hides_ended());
        for narrowed in [
            ClientFilter {
                include_ended: true,
                ..ClientFilter::default()
            },
            ClientFilter {
                status_ids: Some(vec![4]),
                ..ClientFilter::default()
            },
            ClientFilter {
                stages: vec![Stage::NotInterested],
                ..ClientFilter::default()
            },
            ClientFilter {
                permanent: Some(true),
                ..ClientFilter::default()
            },
        ] {
            assert!(!narrowed.hides_ended(), "{narrowed:?}");
        }
    }
}

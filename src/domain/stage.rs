//! The seven fixed lifecycle stages and the forward-only rule.
use serde::{Deserialize, Serialize};

/// A lifecycle stage. Declaration order is rank order, so `Ord` compares ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Stage {
    New,
    FollowUp,
    FollowUpMeetingOrQuote,
    NotInterested,
    Real,
    RealClubOrContract,
    Frozen,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::New,
        Stage::FollowUp,
        Stage::FollowUpMeetingOrQuote,
        Stage::NotInterested,
        Stage::Real,
        Stage::RealClubOrContract,
        Stage::Frozen,
    ];

    /// The stage's rank (0 = NEW … 6 = FROZEN), which is also how the database stores it.
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Stage> {
        usize::try_from(rank)
            .ok()
            .and_then(|i| Stage::ALL.get(i).copied())
    }

    /// Permanent clients have an account card in accounting; everyone else is a prospect.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            Stage::Real | Stage::RealClubOrContract | Stage::Frozen
        )
    }

    /// The forward-only rule: an automatic advance never moves a stage backwards.
    pub fn advance(self, floor: Stage) -> Stage {
        self.max(floor)
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::New => "NEW",
            Stage::FollowUp => "FOLLOW_UP",
            Stage::FollowUpMeetingOrQuote => "FOLLOW_UP_MEETING_OR_QUOTE",
            Stage::NotInterested => "NOT_INTERESTED",
            Stage::Real => "REAL",
            Stage::RealClubOrContract => "REAL_CLUB_OR_CONTRACT",
            Stage::Frozen => "FROZEN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_the_seed_values() {
        let ranks: Vec<i64> = Stage::ALL.iter().map(|s| s.rank()).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3, 4, 5, 6]);
        for s in Stage::ALL {
            assert_eq!(Stage::from_rank(s.rank()), Some(s));
        }
        assert_eq!(Stage::from_rank(7), None);
        assert_eq!(Stage::from_rank(-1), None);
    }

    #[test]
    fn advance_never_moves_backwards() {
        for current in Stage::ALL {
            for floor in Stage::ALL {
                let next = current.advance(floor);
                assert!(next >= current, "{current:?} -> {next:?}");
                assert!(next >= floor);
                assert!(next == current || next == floor);
            }
        }
    }

    #[test]
    fn not_interested_stays_on_a_call_but_becomes_real_on_an_invoice() {
        assert_eq!(
            Stage::NotInterested.advance(Stage::FollowUp),
            Stage::NotInterested
        );
        assert_eq!(Stage::NotInterested.advance(Stage::Real), Stage::Real);
        assert_eq!(
            Stage::NotInterested.advance(Stage::RealClubOrContract),
            Stage::RealClubOrContract
        );
    }

    #[test]
    fn frozen_stays_frozen_whatever_arrives() {
        for floor in Stage::ALL {
            assert_eq!(Stage::Frozen.advance(floor), Stage::Frozen);
        }
    }

    #[test]
    fn permanent_means_it_has_an_account_card() {
        let permanent: Vec<Stage> = Stage::ALL
            .into_iter()
            .filter(|s| s.is_permanent())
            .collect();
        assert_eq!(
            permanent,
            vec![Stage::Real, Stage::RealClubOrContract, Stage::Frozen]
        );
    }
}

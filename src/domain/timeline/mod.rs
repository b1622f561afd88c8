//! The stage timeline: the path a client took through the stages, by when things happened
//! (`occurred_at`), not by when the service heard of them.
//!
//! Every history entry records the stage before and after it in arrival order. The timeline
//! replays the client's entries in `occurred_at` order (ties by entry number), each one moving
//! the path as it would have had it arrived in that order:
//! - the creation starts the path in its stage, at the earliest time of any of the client's
//!   entries (an event dated before the lead was recorded means the client existed then);
//! - an automatic event proposes its stage floor, under the forward-only rule (the path moves
//!   up to it, never down);
//! - an explicit move (SetStatus, the declarations, Reassign with reset) puts the path in its
//!   stage, up or down;
//! - everything else (edits, notes, deletion and restore, erasure) leaves the path alone.
//!
//! Each change of the path's stage is an entry into that stage: a [`Visit`] lasts until the
//! next one. `first_entered_at` / `last_entered_at` of a stage are the earliest and latest entry
//! on the path. The client's current stage is still decided by arrival order (the
//! forward-only rule is unchanged); the path answers "when", the stage answers "where now".
//! They agree unless an explicit move down and an automatic advance arrived in the other
//! order from the one they happened in.
use std::collections::BTreeMap;

use chrono::serde::{ts_microseconds, ts_microseconds_option};
use serde::{Deserialize, Serialize};

use super::client::Timestamp;
use super::stage::Stage;

#[cfg(test)]
mod tests;

/// What one history entry does to the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// The client's creation: the path begins in this stage.
    Start(Stage),
    /// An explicit move: the path is put in this stage.
    Set(Stage),
    /// An automatic event: the path moves up to this stage if below it.
    Propose(Stage),
    Nothing,
}

/// The causes whose stage floor is fixed, and the floor.
const FLOORS: [(&str, Stage); 8] = [
    ("RecordContactAttempt", Stage::FollowUp),
    ("RecordMessageSent", Stage::FollowUp),
    ("ScheduleMeeting", Stage::FollowUp),
    ("SummarizeMeeting", Stage::FollowUpMeetingOrQuote),
    ("IssueQuote", Stage::FollowUpMeetingOrQuote),
    ("ApproveOrder", Stage::Real),
    ("RecordInvoice", Stage::Real),
    ("OpenTradingAccount", Stage::Real),
];

/// The causes that put the stage directly (besides Reassign with reset).
const EXPLICIT: [&str; 3] = ["DeclareNotInterested", "DeclareFrozen", "SetStatus"];

/// What a history entry of `cause`, which took the client from `old` to `new` when it arrived,
/// does to the path. Read from what every entry records, so entries written before the
/// timeline existed replay the same way (the database's backfill applies the same table).
pub fn move_of(
    cause: &str,
    old: Option<Stage>,
    new: Stage,
    details: &BTreeMap<String, String>,
) -> Move {
    let Some(old) = old else {
        return Move::Start(new);
    };
    if let Some((_, floor)) = FLOORS.iter().find(|(c, _)| *c == cause) {
        return Move::Propose(*floor);
    }
    match cause {
        "RecordPaidService" => Move::Propose(Stage::RealClubOrContract),
        // Their floor depends on a setting (extra properties) or on the other clients (a
        // merge takes the highest stage): what they did on arrival is what they propose.
        "RecordExtraProperties" | "MergeClients" if new > old => Move::Propose(new),
        "RecordExtraProperties" | "MergeClients" => Move::Nothing,
        c if EXPLICIT.contains(&c) => Move::Set(new),
        "Reassign" if details.get("reset_stage").map(String::as_str) == Some("true") => {
            Move::Set(Stage::New)
        }
        // A cause this table does not know that changed the stage: put it there.
        _ if new != old => Move::Set(new),
        _ => Move::Nothing,
    }
}

/// One entry to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub at: Timestamp,
    pub entry_id: i64,
    pub mv: Move,
}

/// A stay in one stage: from an entry into it until the next change of stage (`None` while
/// the client is still there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    pub stage: Stage,
    pub entered_at: Timestamp,
    pub left_at: Option<Timestamp>,
}

/// Where the path goes from `current` on `mv`, if it moves.
pub fn next_stage(current: Option<Stage>, mv: Move) -> Option<Stage> {
    let next = match (mv, current) {
        (Move::Nothing, _) => return None,
        // A second creation cannot happen; a path never starts twice.
        (Move::Start(_), Some(_)) => return None,
        (Move::Start(s) | Move::Set(s), _) => s,
        (Move::Propose(s), Some(c)) => c.advance(s),
        (Move::Propose(s), None) => s,
    };
    (current != Some(next)).then_some(next)
}

/// Appends the entry into `stage` at `at`, closing the visit before it.
pub fn enter(visits: &mut Vec<Visit>, stage: Stage, at: Timestamp) {
    if let Some(last) = visits.last_mut() {
        last.left_at = Some(at);
    }
    visits.push(Visit {
        stage,
        entered_at: at,
        left_at: None,
    });
}

/// The path of a client's entries, in any order. The creation comes first, at the earliest
/// time of all; a history with no creation (not written by this service) starts in NEW.
pub fn replay(mut steps: Vec<Step>) -> Vec<Visit> {
    let Some(start_at) = steps.iter().map(|s| s.at).min() else {
        return Vec::new();
    };
    let start = steps
        .iter()
        .position(|s| matches!(s.mv, Move::Start(_)))
        .map(|i| steps.swap_remove(i))
        .map_or(Stage::New, |s| match s.mv {
            Move::Start(stage) => stage,
            _ => Stage::New,
        });
    steps.sort_by_key(|s| (s.at, s.entry_id));
    let mut visits = Vec::new();
    enter(&mut visits, start, start_at);
    for s in steps {
        if let Some(next) = next_stage(visits.last().map(|v| v.stage), s.mv) {
            enter(&mut visits, next, s.at);
        }
    }
    visits
}

/// When a client first and last entered one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageDates {
    pub stage: Stage,
    #[serde(rename = "first", with = "ts_microseconds")]
    pub first_entered_at: Timestamp,
    #[serde(rename = "last", with = "ts_microseconds")]
    pub last_entered_at: Timestamp,
}

/// The timeline kept on the client record: the dates, and where the replay stands so the next
/// entry in order extends it without reading the history again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeline {
    /// The stage at the end of the path (`None`: not computed yet; the next write replays).
    pub path: Option<Stage>,
    /// The latest `occurred_at` of the client's entries: an entry dated before it is late.
    #[serde(with = "ts_microseconds_option")]
    pub through: Option<Timestamp>,
    /// The stages entered, by rank, with their dates (a merge folds other clients' in).
    pub dates: Vec<StageDates>,
}

impl Timeline {
    /// A new client's: in `stage` since `at`.
    pub fn start(stage: Stage, at: Timestamp) -> Timeline {
        let mut t = Timeline {
            path: Some(stage),
            through: Some(at),
            dates: Vec::new(),
        };
        t.entered(stage, at);
        t
    }

    /// Would an entry dated `at` have to be replayed among the earlier ones?
    pub fn is_late(&self, at: Timestamp) -> bool {
        self.through.is_some_and(|t| at < t)
    }

    /// Notes an entry into `stage` at `at`: the earliest first entry and the latest last.
    pub fn entered(&mut self, stage: Stage, at: Timestamp) {
        match self.dates.iter_mut().find(|d| d.stage == stage) {
            Some(d) => {
                d.first_entered_at = d.first_entered_at.min(at);
                d.last_entered_at = d.last_entered_at.max(at);
            }
            None => {
                self.dates.push(StageDates {
                    stage,
                    first_entered_at: at,
                    last_entered_at: at,
                });
                self.dates.sort_by_key(|d| d.stage);
            }
        }
    }

    /// The dates of another client of the same person (MergeClients): per stage, the earliest
    /// first entry and the latest last entry of both.
    pub fn absorb(&mut self, other: &Timeline) {
        for d in &other.dates {
            self.entered(d.stage, d.first_entered_at);
            self.entered(d.stage, d.last_entered_at);
        }
    }

    /// The timeline of a replayed path ending at `through`.
    pub fn of_path(visits: &[Visit], through: Option<Timestamp>) -> Timeline {
        let mut t = Timeline {
            path: visits.last().map(|v| v.stage),
            through,
            dates: Vec::new(),
        };
        for v in visits {
            t.entered(v.stage, v.entered_at);
        }
        t
    }

    pub fn dates_of(&self, stage: Stage) -> Option<StageDates> {
        self.dates.iter().find(|d| d.stage == stage).copied()
    }
}

/// Does an entry into `stage` count as reaching `target` in a conversion? The stage itself, or
/// one further along the sales path: NEW → FOLLOW_UP → FOLLOW_UP_MEETING_OR_QUOTE → REAL, and
/// REAL_CLUB_OR_CONTRACT and FROZEN both beyond REAL (a client can only be there through a
/// deal). NOT_INTERESTED is beyond nothing, and nothing is beyond it, REAL_CLUB_OR_CONTRACT
/// or FROZEN: a skipped stage counts as reached, a side branch does not.
pub fn reaches(stage: Stage, target: Stage) -> bool {
    use Stage::*;
    match target {
        _ if stage == target => true,
        New | FollowUp | FollowUpMeetingOrQuote => stage > target && stage != NotInterested,
        Real => matches!(stage, RealClubOrContract | Frozen),
        NotInterested | RealClubOrContract | Frozen => false,
    }
}

/// A client's first entry into a stage, as the conversion report reads it: and, for each
/// stage (by rank), when the client next reached it (or one beyond it, see [`reaches`]) at or
/// after that entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstEntry {
    pub stage: Stage,
    pub entered_at: Timestamp,
    pub reached: [Option<Timestamp>; 7],
}

/// The first entries of a path, in path order.
pub fn firsts(visits: &[Visit]) -> Vec<FirstEntry> {
    let mut out: Vec<FirstEntry> = Vec::new();
    for v in visits {
        if out.iter().any(|f| f.stage == v.stage) {
            continue;
        }
        let mut reached = [None; 7];
        for target in Stage::ALL {
            reached[target.rank() as usize] = visits
                .iter()
                .filter(|w| w.entered_at >= v.entered_at && reaches(w.stage, target))
                .map(|w| w.entered_at)
                .min();
        }
        out.push(FirstEntry {
            stage: v.stage,
            entered_at: v.entered_at,
            reached,
        });
    }
    out
}

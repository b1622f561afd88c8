//! What the stage timeline's reports ask the store, and what it answers (docs/timeline.md).
use chrono::NaiveDate;

use crate::domain::{Stage, Timestamp};

/// What a timeline report is broken down by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimelineGroup {
    #[default]
    None,
    Owner,
    Branch,
    RecordSource,
}

impl TimelineGroup {
    /// The column of the report tables holding the group, or a blank.
    pub(crate) fn column(self) -> &'static str {
        match self {
            TimelineGroup::None => "''",
            TimelineGroup::Owner => "owner",
            TimelineGroup::Branch => "branch",
            TimelineGroup::RecordSource => "record_source",
        }
    }
}

/// Which clients a timeline report counts, over which period of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineScope {
    pub from: Timestamp,
    pub to: Timestamp,
    pub group: TimelineGroup,
    /// Soft-deleted clients too (merged clients never: their survivor counts).
    pub include_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionQuery {
    pub scope: TimelineScope,
    pub from_stage: Stage,
    pub to_stage: Stage,
    /// Also count those that reached `to_stage` within this long.
    pub within: Option<chrono::Duration>,
}

/// One group's conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionCount {
    pub group: String,
    pub entered: i64,
    pub reached: i64,
    pub reached_within: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayQuery {
    pub scope: TimelineScope,
    /// Empty: all.
    pub stages: Vec<Stage>,
    /// When the entries still in a stage are measured.
    pub as_of: Timestamp,
}

/// A distribution of durations, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    pub count: i64,
    pub median: f64,
    pub p90: f64,
}

/// How long one stage's entries (of one group) lasted.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStay {
    pub stage: Stage,
    pub group: String,
    /// The entries that left the stage.
    pub left: Spread,
    /// The entries still in it, measured at the query's `as_of`.
    pub still_in: Spread,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Bucket {
    #[default]
    Day,
    /// Monday to Sunday.
    Week,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntriesQuery {
    pub scope: TimelineScope,
    /// Offset from UTC of the days, in minutes.
    pub utc_offset_minutes: i32,
    pub bucket: Bucket,
    /// Empty: all.
    pub stages: Vec<Stage>,
    pub first_entries_only: bool,
}

/// Entries into one stage on one day (or in the week starting that Monday), for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCount {
    pub stage: Stage,
    pub day: NaiveDate,
    pub group: String,
    pub count: i64,
}

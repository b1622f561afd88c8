//! Sales activity: calls, messages, meetings. Each advances to at least FOLLOW_UP (a summarised
//! meeting to FOLLOW_UP_MEETING_OR_QUOTE) and stamps what it is.
use std::collections::BTreeMap;

use super::super::client::{CallOutcome, Client, Timestamp, stamp_first, stamp_last};
use super::super::command::Channel;
use super::super::error::DomainError;
use super::super::stage::Stage;
use super::{Ctx, advance, summary};

/// RecordContactAttempt: FOLLOW_UP; last call, outcome and next call; a summary line.
pub(super) fn contact_attempt(
    client: &mut Client,
    ctx: &Ctx,
    outcome: CallOutcome,
    next_call_at: Option<Timestamp>,
    next_call_by: Option<&str>,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> Result<String, DomainError> {
    let at = ctx.at;
    if let Some(next) = next_call_at
        && next <= at
    {
        return Err(DomainError::invalid(
            "next_call_at",
            "must be after occurred_at: it names a future call",
        ));
    }
    advance(client, ctx, Stage::FollowUp);
    // Only the newest attempt decides who called, how it went and what comes next; a replayed
    // older attempt still counts for the stage and the summary.
    if client.last_call_at.is_none_or(|last| at >= last) {
        client.last_call_by = ctx.actor.to_string();
        client.last_call_outcome = outcome;
        match next_call_at {
            Some(next) => {
                client.next_call_at = Some(next);
                client.next_call_by = next_call_by.unwrap_or(ctx.actor).to_string();
            }
            None => {
                client.next_call_at = None;
                client.next_call_by.clear();
            }
        }
    }
    stamp_last(&mut client.last_call_at, at);
    stamp_last(&mut client.last_contact_at, at);
    summary(client, ctx, outcome.label(), note);
    details.insert("outcome".into(), format!("{outcome:?}"));
    if let Some(next) = next_call_at {
        details.insert("next_call_at".into(), next.to_rfc3339());
    }
    Ok(note.to_string())
}

/// RecordMessageSent: FOLLOW_UP; an SMS adds a summary line, an email does not.
pub(super) fn message_sent(
    client: &mut Client,
    ctx: &Ctx,
    channel: Channel,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> String {
    advance(client, ctx, Stage::FollowUp);
    if channel == Channel::Sms {
        summary(client, ctx, "SMS", note);
    }
    stamp_last(&mut client.last_contact_at, ctx.at);
    details.insert("channel".into(), format!("{channel:?}").to_uppercase());
    note.to_string()
}

/// ScheduleMeeting: FOLLOW_UP; stamps nothing.
pub(super) fn schedule_meeting(
    client: &mut Client,
    ctx: &Ctx,
    meeting_at: Timestamp,
    note: &str,
    details: &mut BTreeMap<String, String>,
) -> String {
    advance(client, ctx, Stage::FollowUp);
    details.insert("meeting_at".into(), meeting_at.to_rfc3339());
    note.to_string()
}

/// SummarizeMeeting: FOLLOW_UP_MEETING_OR_QUOTE; first and last meeting; a summary line.
pub(super) fn summarize_meeting(client: &mut Client, ctx: &Ctx, note: &str) -> String {
    advance(client, ctx, Stage::FollowUpMeetingOrQuote);
    stamp_first(&mut client.first_meeting_at, ctx.at);
    stamp_last(&mut client.last_meeting_at, ctx.at);
    stamp_last(&mut client.last_contact_at, ctx.at);
    summary(client, ctx, "Meeting summary", note);
    note.to_string()
}

//! The manual declarations (DeclareNotInterested, DeclareFrozen, DeclareFictitious,
//! RestoreClient, SetStatus) and Reassign -> domain commands. Whether a declaration is allowed
//! in the client's state is the domain's rule; here only the request's shape is checked.
use crate::domain::filters::reassign_resets_stage;
use crate::domain::{Action, Command, Stage};
use crate::proto as pb;

use super::client_requests::optional_note;
use super::enums::{STAGES, choice};
use super::requests::{Envelope, MutationRequest};
use super::validate::{self, Need, SHORT_MAX, client_ids, line, note, optional_id};
use super::violations::{All, Violations, reason};

/// Most clients one Reassign (allocation wizard run) may name.
pub const REASSIGN_CLIENTS_MAX: usize = 1_000;

impl TryFrom<&pb::DeclareNotInterestedRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::DeclareNotInterestedRequest) -> Result<Self, Violations> {
        let (note, reason_status_id) = (
            note("note", &r.note, Need::Required),
            validate::entry_id("reason_status_id", r.reason_status_id),
        )
            .all()?;
        Ok(Action::DeclareNotInterested {
            note,
            reason_status_id,
        })
    }
}

impl TryFrom<&pb::DeclareFrozenRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::DeclareFrozenRequest) -> Result<Self, Violations> {
        let (frozen_message, note, reason_status_id) = (
            note("frozen_message", &r.frozen_message, Need::Required),
            note("note", &r.note, Need::Required),
            optional_id("reason_status_id", r.reason_status_id),
        )
            .all()?;
        Ok(Action::DeclareFrozen {
            frozen_message,
            note,
            reason_status_id,
        })
    }
}

impl TryFrom<&pb::DeclareFictitiousRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::DeclareFictitiousRequest) -> Result<Self, Violations> {
        let (note, fictitious_reason) = (
            note("note", &r.note, Need::Required),
            note("fictitious_reason", &r.fictitious_reason, Need::Required),
        )
            .all()?;
        Ok(Action::DeclareFictitious {
            note,
            fictitious_reason,
        })
    }
}

impl TryFrom<&pb::RestoreClientRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::RestoreClientRequest) -> Result<Self, Violations> {
        Ok(Action::Restore {
            note: optional_note(&r.note)?,
        })
    }
}

/// SetStatus names a stage, a status, or both; UNSPECIFIED is fine only with a status.
fn set_status_stage(r: &pb::SetStatusRequest) -> Result<Option<Stage>, Violations> {
    if r.stage == pb::ClientStage::Unspecified as i32 && r.status_id > 0 {
        return Ok(None);
    }
    if r.stage == pb::ClientStage::Unspecified as i32 {
        return Err(Violations::one(
            "stage",
            reason::FIELD_REQUIRED,
            "name a stage, a status_id, or both",
        ));
    }
    choice("stage", r.stage, &STAGES).map(Some)
}

impl TryFrom<&pb::SetStatusRequest> for Action {
    type Error = Violations;
    fn try_from(r: &pb::SetStatusRequest) -> Result<Self, Violations> {
        let (stage, status_id, reason) = (
            set_status_stage(r),
            optional_id("status_id", r.status_id),
            note("reason", &r.reason, Need::Required),
        )
            .all()?;
        Ok(Action::SetStatus {
            stage,
            status_id,
            reason,
        })
    }
}

impl MutationRequest for pb::ReassignRequest {
    const METHOD: &'static str = "Reassign";
    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            request_id: &self.request_id,
            occurred_at: self.occurred_at.as_ref(),
            actor: &self.actor,
            expected_version: self.expected_version,
        }
    }
    fn command(&self) -> Result<Command, Violations> {
        let (client_ids, new_owner, note) = (
            client_ids("client_ids", &self.client_ids, REASSIGN_CLIENTS_MAX),
            line("new_owner", &self.new_owner, SHORT_MAX, Need::Required),
            optional_note(&self.note),
        )
            .all()?;
        Ok(Command::Update {
            client_ids,
            action: Action::Reassign {
                new_owner,
                reset_stage: reassign_resets_stage(self.reset_stage),
                note,
            },
        })
    }
}

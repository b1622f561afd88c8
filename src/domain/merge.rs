//! MergeClients (docs/card.md): duplicate cards of one person fold into a survivor. The
//! survivor takes the highest stage (the forward-only rule), the earliest `first_*` and the
//! latest `last_*` stamps, the newest summary entries of all, the details it lacks, the
//! trading accounts and the children; each merged client leaves the active set with
//! `merged_into`, keeps its history, and writes a MERGED event naming the survivor.
use std::collections::{BTreeMap, BTreeSet};

use super::client::{Client, Timestamp};
use super::error::DomainError;
use super::rules::{CLIENT_PROPERTIES_MAX, Change, Ctx, StatusEvent, set_stage};
use super::stage::Stage;
use super::summary::add_entry;

/// What a merge writes: the survivor's change and each merged client's, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub survivor: Change,
    pub merged: Vec<Change>,
}

/// The parents of the group's clients that are outside the group: the engine loads each one's
/// chain of ancestors for [`merge`].
pub fn outside_parents(survivor: &Client, merged: &[Client]) -> Vec<i64> {
    let group = group_ids(survivor, merged);
    let out: BTreeSet<i64> = std::iter::once(survivor)
        .chain(merged)
        .filter_map(|c| c.parent_client_id)
        .filter(|p| !group.contains(p))
        .collect();
    out.into_iter().collect()
}

fn group_ids(survivor: &Client, merged: &[Client]) -> BTreeSet<i64> {
    std::iter::once(survivor.client_id)
        .chain(merged.iter().map(|c| c.client_id))
        .collect()
}

/// Refuses what cannot be merged: the survivor among the merged, a deleted or merged client
/// on either side, a survivor that moved on since the caller read it.
fn preconditions(
    survivor: &Client,
    merged: &[Client],
    expected_version: Option<i64>,
) -> Result<(), DomainError> {
    let s = survivor.client_id;
    if let Some(into) = survivor.merged_into {
        return Err(DomainError::merged(s, into));
    }
    if let Some(expected) = expected_version
        && expected != survivor.version
    {
        return Err(DomainError::VersionMismatch {
            subject: format!("clients/{s}"),
            expected,
            actual: survivor.version,
        });
    }
    if survivor.is_deleted() {
        return Err(DomainError::precondition(
            "CLIENT_DELETED",
            s,
            format!("client {s} is deleted; clients cannot be merged into it"),
        ));
    }
    for m in merged {
        let id = m.client_id;
        if id == s {
            return Err(DomainError::precondition(
                "MERGE_INTO_ITSELF",
                s,
                format!("client {s} cannot be merged into itself"),
            ));
        }
        if let Some(into) = m.merged_into {
            return Err(DomainError::merged(id, into));
        }
        if m.is_deleted() {
            return Err(DomainError::precondition(
                "CLIENT_DELETED",
                id,
                format!("client {id} is deleted; restore it before merging it"),
            ));
        }
    }
    Ok(())
}

/// Folds `merged` into `survivor`. `chains` holds, for each of [`outside_parents`], that client
/// and its ancestors (nearest first): a parent whose chain reaches into the group would make a
/// cycle once the group is one client.
pub fn merge(
    survivor: &mut Client,
    merged: &mut [Client],
    chains: &BTreeMap<i64, Vec<i64>>,
    ctx: &Ctx,
    expected_version: Option<i64>,
    note: &str,
) -> Result<Merged, DomainError> {
    preconditions(survivor, merged, expected_version)?;
    let s = survivor.client_id;
    let group = group_ids(survivor, merged);
    let reaches_group = |p: i64| {
        chains
            .get(&p)
            .is_some_and(|c| c.iter().any(|a| group.contains(a)))
    };
    // The survivor's own parent: inside the group it is gone; reaching into it is a cycle.
    match survivor.parent_client_id {
        Some(p) if group.contains(&p) => survivor.parent_client_id = None,
        Some(p) if reaches_group(p) => {
            return Err(DomainError::precondition(
                "PARENT_CYCLE",
                s,
                format!(
                    "client {p}, an ancestor of client {s}, is a descendant of a client being \
                     merged; the merged client would be its own ancestor"
                ),
            ));
        }
        _ => {}
    }
    let (old_stage, old_status) = (survivor.stage, survivor.status_id);
    let mut filled = BTreeSet::new();
    for m in merged.iter() {
        fill_details(survivor, m, &mut filled);
        if survivor.parent_client_id.is_none()
            && let Some(p) = m.parent_client_id
            && !group.contains(&p)
            && !reaches_group(p)
        {
            survivor.parent_client_id = Some(p);
            filled.insert("parent_client_id");
        }
        take_stamps(survivor, m);
        // Per stage, the earliest first entry and the latest last entry of all.
        survivor.timeline.absorb(&m.timeline);
        for e in &m.summary {
            add_entry(&mut survivor.summary, e.clone());
        }
        for account in &m.trading_account_ids {
            if !survivor.trading_account_ids.contains(account) {
                survivor.trading_account_ids.push(account.clone());
            }
        }
    }
    // The highest stage; the survivor's status when the stage is its own, else the stage's
    // default. A stage taken from a frozen duplicate brings its pop-up if the survivor has none.
    let top = merged
        .iter()
        .max_by_key(|m| m.stage)
        .filter(|m| m.stage > survivor.stage);
    if let Some(top) = top {
        let frozen_message = top.frozen_message.clone();
        set_stage(survivor, ctx, top.stage);
        if survivor.frozen_message.is_empty() && top.stage == Stage::Frozen {
            survivor.frozen_message = frozen_message;
        }
    }
    survivor.version += 1;
    survivor.updated_at = ctx.now;
    let ids: Vec<String> = merged.iter().map(|m| m.client_id.to_string()).collect();
    let mut details = BTreeMap::new();
    details.insert("merged_client_ids".to_string(), ids.join(","));
    if !filled.is_empty() {
        details.insert(
            "filled".to_string(),
            filled.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    let event = if survivor.stage != old_stage {
        Some(StatusEvent::StageChanged)
    } else if survivor.status_id != old_status {
        details.insert("old_status_id".into(), old_status.to_string());
        details.insert("new_status_id".into(), survivor.status_id.to_string());
        Some(StatusEvent::StatusChanged)
    } else {
        None
    };
    let survivor_change = Change {
        cause: "MergeClients",
        old_stage: Some(old_stage),
        new_stage: survivor.stage,
        old_status_id: Some(old_status),
        new_status_id: survivor.status_id,
        note: note.to_string(),
        details,
        alerts: Vec::new(),
        event,
    };
    let merged_changes = merged.iter_mut().map(|m| fold(m, s, ctx, note)).collect();
    Ok(Merged {
        survivor: survivor_change,
        merged: merged_changes,
    })
}

/// A merged client: out of the active set, its trading accounts gone to the survivor.
fn fold(m: &mut Client, survivor: i64, ctx: &Ctx, note: &str) -> Change {
    m.merged_into = Some(survivor);
    m.merged_at = Some(ctx.at);
    m.trading_account_ids.clear();
    m.version += 1;
    m.updated_at = ctx.now;
    let mut details = BTreeMap::new();
    details.insert("merged_into_client_id".to_string(), survivor.to_string());
    Change {
        cause: "MergeClients",
        old_stage: Some(m.stage),
        new_stage: m.stage,
        old_status_id: Some(m.status_id),
        new_status_id: m.status_id,
        note: note.to_string(),
        details,
        alerts: Vec::new(),
        event: Some(StatusEvent::Merged),
    }
}

/// A child of a merged client becomes the survivor's.
pub fn adopt(child: &mut Client, survivor: i64, ctx: &Ctx) -> Change {
    let old = child
        .parent_client_id
        .map(|p| p.to_string())
        .unwrap_or_default();
    child.parent_client_id = Some(survivor);
    child.version += 1;
    child.updated_at = ctx.now;
    let mut details = BTreeMap::new();
    details.insert("changed".to_string(), "parent_client_id".to_string());
    details.insert("old.parent_client_id".to_string(), old);
    details.insert("new.parent_client_id".to_string(), survivor.to_string());
    Change {
        cause: "MergeClients",
        old_stage: Some(child.stage),
        new_stage: child.stage,
        old_status_id: Some(child.status_id),
        new_status_id: child.status_id,
        note: String::new(),
        details,
        alerts: Vec::new(),
        event: None,
    }
}

/// Details the survivor lacks, taken from `m`.
fn fill_details(s: &mut Client, m: &Client, filled: &mut BTreeSet<&'static str>) {
    let mut text = |path: &'static str, to: &mut String, from: &str| {
        if to.is_empty() && !from.is_empty() {
            *to = from.to_string();
            filled.insert(path);
        }
    };
    text(
        "name.first_name",
        &mut s.name.first_name,
        &m.name.first_name,
    );
    text(
        "name.middle_name",
        &mut s.name.middle_name,
        &m.name.middle_name,
    );
    text("branch", &mut s.branch, &m.branch);
    text("email", &mut s.email, &m.email);
    text("phone", &mut s.phone, &m.phone);
    text(
        "external_lead_id",
        &mut s.external_lead_id,
        &m.external_lead_id,
    );
    text("record_source", &mut s.record_source, &m.record_source);
    let mut id = |path: &'static str, to: &mut Option<i64>, from: Option<i64>| {
        if to.is_none() && from.is_some() {
            *to = from;
            filled.insert(path);
        }
    };
    let (c, mc) = (&mut s.classifications, &m.classifications);
    id(
        "classifications.customer_type_id",
        &mut c.customer_type_id,
        mc.customer_type_id,
    );
    id(
        "classifications.industry_id",
        &mut c.industry_id,
        mc.industry_id,
    );
    id(
        "classifications.headcount_class_id",
        &mut c.headcount_class_id,
        mc.headcount_class_id,
    );
    for (k, v) in &m.custom_properties {
        if s.custom_properties.len() >= CLIENT_PROPERTIES_MAX {
            break;
        }
        if !s.custom_properties.contains_key(k) {
            s.custom_properties.insert(k.clone(), v.clone());
            filled.insert("custom_properties");
        }
    }
}

fn earliest(to: &mut Option<Timestamp>, from: Option<Timestamp>) {
    *to = match (*to, from) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
}

fn latest(to: &mut Option<Timestamp>, from: Option<Timestamp>) {
    *to = (*to).max(from);
}

/// `first_*` the earliest, `last_*` the latest. The call fields travel together: the latest
/// call of any client says who called, how it went and what next call it set.
fn take_stamps(s: &mut Client, m: &Client) {
    earliest(&mut s.first_meeting_at, m.first_meeting_at);
    earliest(&mut s.first_quote_at, m.first_quote_at);
    earliest(&mut s.became_real_at, m.became_real_at);
    latest(&mut s.last_contact_at, m.last_contact_at);
    latest(&mut s.last_meeting_at, m.last_meeting_at);
    latest(&mut s.last_allocated_at, m.last_allocated_at);
    if m.last_call_at.is_some() && m.last_call_at > s.last_call_at {
        s.last_call_at = m.last_call_at;
        s.last_call_by = m.last_call_by.clone();
        s.last_call_outcome = m.last_call_outcome;
        s.next_call_at = m.next_call_at;
        s.next_call_by = m.next_call_by.clone();
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;

//! The rules behind list filters and the allocation wizard's default: which statuses a
//! ListClients search matches, whose clients "assigned to me" lists, and whether a Reassign
//! puts clients back to NEW. The edge parses the request; these decide what it means.

/// The statuses a search matches: the statuses it names, narrowed to the members of the
/// groups it names (a status named directly but in none of the groups matches nothing).
/// `None` when the search restricts the status neither way; `Some(empty)` matches no client.
/// Sorted, each once.
pub fn status_filter(named: &[i64], groups: &[&[i64]]) -> Option<Vec<i64>> {
    let members = || groups.iter().flat_map(|g| g.iter().copied());
    let mut ids: Vec<i64> = match (named.is_empty(), groups.is_empty()) {
        (true, true) => return None,
        (false, true) => named.to_vec(),
        (true, false) => members().collect(),
        (false, false) => named
            .iter()
            .copied()
            .filter(|id| members().any(|m| m == *id))
            .collect(),
    };
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// A search that asks for the caller's own clients and names someone else as owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerConflict;

/// Whose clients a search lists: `assigned_to_me` means the caller's; otherwise the owner it
/// names, if any (blank: everyone's).
pub fn owner_filter(
    owner: &str,
    assigned_to_me: bool,
    caller: &str,
) -> Result<Option<String>, OwnerConflict> {
    match (assigned_to_me, owner.is_empty()) {
        (true, false) if owner != caller => Err(OwnerConflict),
        (true, _) => Ok(Some(caller.to_string())),
        (false, true) => Ok(None),
        (false, false) => Ok(Some(owner.to_string())),
    }
}

/// An allocation puts the clients back to NEW unless the manager asks to keep their stages:
/// a new owner starts the sales effort over.
pub const REASSIGN_RESETS_STAGE_BY_DEFAULT: bool = true;

/// Whether a Reassign resets the stage, given what the request said (absent: the default).
pub fn reassign_resets_stage(requested: Option<bool>) -> bool {
    requested.unwrap_or(REASSIGN_RESETS_STAGE_BY_DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_naming_no_status_or_group_does_not_restrict_the_status() {
        assert_eq!(status_filter(&[], &[]), None);
    }

    #[test]
    fn named_statuses_are_matched_as_given_sorted_and_once() {
        assert_eq!(status_filter(&[9, 2, 9], &[]), Some(vec![2, 9]));
    }

    #[test]
    fn groups_match_all_their_members() {
        assert_eq!(status_filter(&[], &[&[5, 3], &[3, 8]]), Some(vec![3, 5, 8]));
    }

    #[test]
    fn statuses_and_groups_together_match_their_intersection() {
        assert_eq!(status_filter(&[3, 4], &[&[5, 3], &[8]]), Some(vec![3]));
        assert_eq!(
            status_filter(&[4], &[&[5]]),
            Some(vec![]),
            "a status outside every named group matches nothing"
        );
        assert_eq!(status_filter(&[], &[&[]]), Some(vec![]), "an empty group");
    }

    #[test]
    fn assigned_to_me_lists_the_callers_clients() {
        assert_eq!(owner_filter("", true, "dana"), Ok(Some("dana".into())));
        assert_eq!(owner_filter("dana", true, "dana"), Ok(Some("dana".into())));
        assert_eq!(owner_filter("avi", true, "dana"), Err(OwnerConflict));
    }

    #[test]
    fn without_assigned_to_me_the_named_owner_or_everyone() {
        assert_eq!(owner_filter("avi", false, "dana"), Ok(Some("avi".into())));
        assert_eq!(owner_filter("", false, "dana"), Ok(None));
    }

    #[test]
    fn reassign_resets_the_stage_unless_told_not_to() {
        assert!(reassign_resets_stage(None));
        assert!(reassign_resets_stage(Some(true)));
        assert!(!reassign_resets_stage(Some(false)));
    }
}

//! Deals: quotes, orders, invoices, trading accounts, paid services, extra properties. A quote
//! is FOLLOW_UP_MEETING_OR_QUOTE; an accounting transaction makes a client REAL; a paid monthly
//! service REAL_CLUB_OR_CONTRACT.
use std::collections::BTreeMap;

use super::super::client::{Client, stamp_first};
use super::super::error::DomainError;
use super::super::stage::Stage;
use super::{CLIENT_PROPERTIES_MAX, Ctx, advance};

/// IssueQuote: FOLLOW_UP_MEETING_OR_QUOTE; the first quote, once.
pub(super) fn issue_quote(client: &mut Client, ctx: &Ctx, note: &str) -> String {
    advance(client, ctx, Stage::FollowUpMeetingOrQuote);
    stamp_first(&mut client.first_quote_at, ctx.at);
    note.to_string()
}

/// ApproveOrder, RecordInvoice: REAL; became_real_at once.
pub(super) fn became_real(client: &mut Client, ctx: &Ctx, note: &str) -> String {
    advance(client, ctx, Stage::Real);
    stamp_first(&mut client.became_real_at, ctx.at);
    note.to_string()
}

/// OpenTradingAccount: REAL, and the account is listed on the client.
pub(super) fn trading_account(
    client: &mut Client,
    ctx: &Ctx,
    trading_account_id: &str,
    note: &str,
) -> String {
    let note = became_real(client, ctx, note);
    client
        .trading_account_ids
        .push(trading_account_id.to_string());
    note
}

/// RecordPaidService: REAL_CLUB_OR_CONTRACT, also from NOT_INTERESTED; became_real_at once.
pub(super) fn paid_service(client: &mut Client, ctx: &Ctx, note: &str) -> String {
    advance(client, ctx, Stage::RealClubOrContract);
    stamp_first(&mut client.became_real_at, ctx.at);
    note.to_string()
}

/// RecordExtraProperties: an empty value removes a property; filling some is a deal (REAL)
/// only when the organisation says so.
pub(super) fn extra_properties(
    client: &mut Client,
    ctx: &Ctx,
    properties: &BTreeMap<String, String>,
    details: &mut BTreeMap<String, String>,
) -> Result<String, DomainError> {
    for (key, value) in properties {
        if value.is_empty() {
            client.custom_properties.remove(key);
        } else {
            client.custom_properties.insert(key.clone(), value.clone());
        }
    }
    if client.custom_properties.len() > CLIENT_PROPERTIES_MAX {
        return Err(DomainError::invalid(
            "properties",
            format!(
                "the client would hold {} properties; at most {CLIENT_PROPERTIES_MAX}",
                client.custom_properties.len()
            ),
        ));
    }
    // Only filling properties is a deal; a request that only clears some is not.
    if ctx.settings.extra_properties_mean_deal && properties.values().any(|v| !v.is_empty()) {
        advance(client, ctx, Stage::Real);
    }
    details.insert(
        "properties".into(),
        properties.keys().cloned().collect::<Vec<_>>().join(","),
    );
    Ok(String::new())
}
